package main

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// functionNames are the eight function folders the product deploys.
var functionNames = []string{
	"fulfillment-callback", "fulfillment-router", "inventory-sync", "inventory-updated",
	"order-cancelled", "order-created", "order-fulfilled", "order-paid",
}

// wantEntries is the exact content of the zip.
func wantEntries() []string {
	want := []string{"handler", "host.json"}
	for _, fn := range functionNames {
		want = append(want, fn+"/function.json")
	}
	sort.Strings(want)
	return want
}

func TestFuncignoreCoreToolsSemantics(t *testing.T) {
	fi := parseFuncignore("# comment\n\n*.go\n/internal/\ndocs/**/x\n!keep.go\ntools\n")
	tests := []struct {
		path string
		want bool
	}{
		{"main.go", false},
		{"keep.go", true},              // negation wins
		{"sub/main.go", true},          // Core Tools: "*.go" is anchored at the root ("*" never crosses "/")
		{"internal/a/b.txt", false},    // prefix match on a directory
		{"internalx", true},            // "internal/" needs the slash
		{"docs/a/b/x", false},          // "**" crosses directories
		{"tools", false},               // prefix match...
		{"toolshed/readme.txt", false}, // ...even of a longer name (Core Tools quirk)
		{"host.json", true},
	}
	for _, tc := range tests {
		if got := fi.accepts(tc.path); got != tc.want {
			t.Errorf("accepts(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	plain := parseFuncignore("internal/\ntools\n*.go\n")
	if !plain.deniesTree("internal") || !plain.deniesTree("tools") || plain.deniesTree("cmd") || plain.deniesTree("order-created") {
		t.Error("deniesTree must prune exactly the fully denied directories")
	}
	if parseFuncignore("internal/\n!internal/keep").deniesTree("internal") {
		t.Error("with a negation nothing may be pruned")
	}
}

// TestRepositorySelection runs the repository's .funcignore over the working tree: only
// host.json and the function folders may be selected (the built handler is added separately).
// A new top-level file or folder that should not be deployed makes this fail until
// .funcignore lists it.
func TestRepositorySelection(t *testing.T) {
	text, err := os.ReadFile("../.funcignore")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("..")
	files, err := selectFiles(root, parseFuncignore(string(text)), filepath.Join(root, "dist", "functionapp.zip"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.name)
	}
	var want []string
	for _, w := range wantEntries() {
		if w != "handler" {
			want = append(want, w)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("selected files:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if err := checkLayout(root, files); err != nil {
		t.Errorf("checkLayout: %v", err)
	}
}

func TestCheckStaticLinuxAMD64Rejects(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755)
	if err := checkStaticLinuxAMD64(notELF); err == nil {
		t.Error("a shell script passed the ELF check")
	}
	arm := filepath.Join(dir, "arm")
	cmd := exec.Command("go", "build", "-o", arm, "./testdata/stubhandler")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build arm64 stub: %v: %s", err, out)
	}
	if err := checkStaticLinuxAMD64(arm); err == nil || !strings.Contains(err.Error(), "EM_AARCH64") {
		t.Errorf("arm64 binary: %v", err)
	}
	for _, dyn := range []string{"/bin/ls", "/usr/bin/env"} {
		f, err := elf.Open(dyn)
		if err != nil || f.Machine != elf.EM_X86_64 {
			continue
		}
		f.Close()
		if err := checkStaticLinuxAMD64(dyn); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
			t.Errorf("%s (dynamically linked): %v", dyn, err)
		}
		return
	}
	t.Log("no dynamically linked x86-64 system binary to check against")
}

func TestBuildFailsClearly(t *testing.T) {
	var log bytes.Buffer
	_, err := build(options{root: "..", out: filepath.Join(t.TempDir(), "x.zip"), pkg: "./cmd/does-not-exist"}, &log)
	if err == nil || !strings.Contains(err.Error(), "building the handler failed") || !strings.Contains(err.Error(), "./cmd/does-not-exist") {
		t.Errorf("err = %v", err)
	}
	if log.Len() == 0 {
		t.Error("the go build output must be shown")
	}
}

// TestPackage builds the real package (./cmd/handler; the stub until that exists) and checks
// the zip: exact layout, handler executable in the zip's mode bits, a static linux/amd64 ELF,
// no sources or local settings.
func TestPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler for linux/amd64; skipped with -short")
	}
	pkg := "./cmd/handler"
	if _, err := os.Stat("../cmd/handler"); err != nil {
		pkg = "./deploy/testdata/stubhandler"
		t.Logf("cmd/handler does not exist yet; packaging %s instead", pkg)
	}
	out := filepath.Join(t.TempDir(), "dist", "functionapp.zip")
	var log bytes.Buffer
	names, err := build(options{root: "..", out: out, pkg: pkg, version: "test-1"}, &log)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	if len(names) != len(wantEntries()) {
		t.Errorf("build reported %v", names)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatalf("open zip: %v", err)
	}
	defer zr.Close()
	var got []string
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		got = append(got, f.Name)
		byName[f.Name] = f
		if strings.HasSuffix(f.Name, ".go") || strings.Contains(f.Name, "local.settings.json") || strings.HasPrefix(f.Name, "/") || strings.Contains(f.Name, "\\") {
			t.Errorf("zip must not contain %q", f.Name)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(wantEntries(), ",") {
		t.Errorf("zip entries:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantEntries(), "\n  "))
	}

	h := byName["handler"]
	if h == nil {
		t.Fatal("no handler in the zip")
	}
	if h.CreatorVersion>>8 != 3 || h.Mode().Perm()&0o111 == 0 {
		t.Errorf("handler zip mode %v (creator %d), want executable bits recorded for Unix", h.Mode(), h.CreatorVersion>>8)
	}
	bin := readEntry(t, h)
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("handler is not ELF: %v", err)
	}
	if err := checkELF(f); err != nil {
		t.Errorf("handler: %v", err)
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("handler has a program interpreter (dynamically linked)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) != 0 {
		t.Errorf("handler needs %v", libs)
	}
	if pkg == "./cmd/handler" && !bytes.Contains(bin, []byte("test-1")) {
		t.Error("the -version value was not stamped into the binary")
	}

	var host struct {
		CustomHandler struct {
			Description struct{ DefaultExecutablePath string }
		}
	}
	if err := json.Unmarshal(readEntry(t, byName["host.json"]), &host); err != nil || host.CustomHandler.Description.DefaultExecutablePath != "handler" {
		t.Errorf("host.json in the zip: %v %+v", err, host)
	}
	for _, fn := range functionNames {
		e := byName[fn+"/function.json"]
		if e == nil {
			continue
		}
		want, _ := os.ReadFile(filepath.Join("..", fn, "function.json"))
		if !bytes.Equal(readEntry(t, e), want) || e.Mode().Perm()&0o111 != 0 {
			t.Errorf("%s/function.json differs from the repository or is executable", fn)
		}
	}
}

func readEntry(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
