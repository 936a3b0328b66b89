package sourcetree

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("root %s has no go.mod", root)
	}
	t.Chdir(t.TempDir())
	if _, err := Root(); err == nil {
		t.Fatal("found a root outside any repository")
	}
}
