package serve

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"strconv"
)

// The web page at GET /: one self-contained HTML file (no CDN, no web fonts) that posts the
// chosen, dropped or pasted image to the HF route and draws the top five labels.

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	type model struct{ Name, Source string }
	var data struct{ Models []model }
	for _, name := range s.Models() {
		if e, err := s.lookup(name); err == nil {
			data.Models = append(data.Models, model{e.Name, e.Source})
		}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		s.writeError(w, errorf(Internal, "rendering the page: %v", err), "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob:; connect-src 'self'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}
