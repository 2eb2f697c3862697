package kernels

import "testing"

func TestAsmDefault(t *testing.T) {
	tests := []struct {
		env  string
		want bool
	}{
		{"", haveAsm},
		{"0", haveAsm},
		{"1", false},
	}
	for _, tc := range tests {
		got := asmDefault(func(k string) string {
			if k == "RESNET_NOASM" {
				return tc.env
			}
			return ""
		})
		if got != tc.want {
			t.Errorf("RESNET_NOASM=%q: asm %v, want %v", tc.env, got, tc.want)
		}
	}
	prev := setAsm(true)
	defer setAsm(prev)
	if want := map[bool]string{true: "avx2-fma", false: "go"}[haveAsm]; Backend() != want {
		t.Errorf("setAsm(true): Backend() = %q, want %q", Backend(), want)
	}
	if setAsm(false); Backend() != "go" {
		t.Errorf("setAsm(false): Backend() = %q, want go", Backend())
	}
}
