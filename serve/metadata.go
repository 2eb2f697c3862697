package serve

import "strconv"

// TensorMetadata describes one input or output; -1 is a variable dimension.
type TensorMetadata struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

// ModelMetadata is OIP's model metadata.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
	// Properties are extra facts (OIP gRPC's properties map): the model's source, its
	// number of labels, the function of "probabilities".
	Properties map[string]string `json:"-"`
}

// platform names the runtime in model metadata ("<project>_<format>" by OIP's convention;
// the field is informational).
const platform = "resnet-go"

// ModelMetadata describes a model's inputs and outputs.
func (s *Server) ModelMetadata(name, version string) (*ModelMetadata, error) {
	e, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(name, version); err != nil {
		return nil, err
	}
	cfg := &e.Model.Model.Config
	k, f := cfg.NumLabels, e.Model.Model.Spec.Features
	if k == 0 {
		k = f
	}
	md := &ModelMetadata{
		Name:     e.Name,
		Versions: []string{modelVersion},
		Platform: platform,
		Inputs: []TensorMetadata{
			{Name: InputImage, Datatype: "BYTES", Shape: []int{-1}},
			{Name: InputPixels, Datatype: "FP32", Shape: e.pixelShape()},
		},
		Properties: map[string]string{
			"source":        e.Source,
			"num_labels":    strconv.Itoa(cfg.NumLabels),
			"probabilities": e.defaultFunction(),
		},
	}
	for _, n := range e.outputNames() {
		width := k
		if n == OutputEmbedding {
			width = f
		}
		md.Outputs = append(md.Outputs, TensorMetadata{Name: n, Datatype: "FP32", Shape: []int{-1, width}})
	}
	return md, nil
}

// ModelReady reports whether a model is loaded (an unknown model is an error).
func (s *Server) ModelReady(name, version string) (bool, error) {
	if _, err := s.lookup(name); err != nil {
		return false, err
	}
	if err := checkVersion(name, version); err != nil {
		return false, err
	}
	return true, nil
}
