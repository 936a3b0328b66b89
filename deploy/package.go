// Command package builds the deployable Azure Functions zip: the handler binary for linux/amd64
// (static, CGO_ENABLED=0), host.json and the function folders at the zip root, selected the way
// `func azure functionapp publish` selects files (honouring .funcignore with Core Tools' own
// matching rules). Run it from the repository root:
//
//	go run ./deploy -out dist/functionapp.zip
//
// or through deploy/package.sh. It fails with a clear message when the build fails, when the
// result is not a static linux/amd64 executable, or when host.json or a function folder is
// missing from the package.
package main

import (
	"archive/zip"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

func main() {
	var opts options
	flag.StringVar(&opts.root, "root", ".", "function app root (repository root: host.json, function folders, .funcignore)")
	flag.StringVar(&opts.out, "out", "dist/functionapp.zip", "zip to write")
	flag.StringVar(&opts.pkg, "pkg", "./cmd/handler", "Go package of the handler binary")
	flag.StringVar(&opts.version, "version", "", "version stamped into the binary with -X main.version (empty: none)")
	flag.Parse()
	files, err := build(opts, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "package: %v\n", err)
		os.Exit(1)
	}
	for _, f := range files {
		fmt.Printf("  %s\n", f)
	}
	fmt.Printf("wrote %s (%d files)\n", opts.out, len(files))
}

// options configures build.
type options struct {
	root, out, pkg, version string
}

// Target platform of Azure Functions on Linux.
const (
	goos   = "linux"
	goarch = "amd64"
)

// build compiles the handler, selects the app files and writes the zip. It returns the zip's
// entry names. Build output goes to logw.
func build(opts options, logw io.Writer) ([]string, error) {
	root, err := filepath.Abs(opts.root)
	if err != nil {
		return nil, err
	}
	out, err := filepath.Abs(opts.out)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "host.json")); err != nil {
		return nil, fmt.Errorf("no host.json in %s: run from the repository root or pass -root", root)
	}
	ignoreText, err := os.ReadFile(filepath.Join(root, ".funcignore"))
	if err != nil {
		return nil, fmt.Errorf("read .funcignore (without it the sources would be deployed): %w", err)
	}
	ignore := parseFuncignore(string(ignoreText))

	staging, err := os.MkdirTemp("", "functionapp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	binary := filepath.Join(staging, "handler")
	if err := goBuild(root, opts.pkg, opts.version, binary, logw); err != nil {
		return nil, err
	}
	if err := checkStaticLinuxAMD64(binary); err != nil {
		return nil, fmt.Errorf("built handler: %w", err)
	}

	files, err := selectFiles(root, ignore, out)
	if err != nil {
		return nil, err
	}
	if err := checkLayout(root, files); err != nil {
		return nil, err
	}
	entries := append([]entry{{name: "handler", src: binary, mode: 0o755}}, files...)
	if err := writeZip(out, entries); err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	return names, nil
}

// goBuild runs go build for linux/amd64 without cgo.
func goBuild(root, pkg, version, outPath string, logw io.Writer) error {
	ldflags := "-s -w"
	if version != "" {
		ldflags += " -X main.version=" + version
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", outPath, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout = logw
	cmd.Stderr = logw
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the handler failed (CGO_ENABLED=0 GOOS=%s GOARCH=%s go build %s): %w", goos, goarch, pkg, err)
	}
	return nil
}

// checkStaticLinuxAMD64 verifies that path is an x86-64 ELF executable with no program
// interpreter and no shared-library dependencies (what CGO_ENABLED=0 produces).
func checkStaticLinuxAMD64(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not an ELF file: %w", err)
	}
	defer f.Close()
	return checkELF(f)
}

func checkELF(f *elf.File) error {
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("ELF %v %v, want ELFCLASS64 EM_X86_64", f.Class, f.Machine)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("ELF type %v is not an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (has a PT_INTERP program interpreter); build with CGO_ENABLED=0")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("read dynamic section: %w", err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("needs shared libraries %v (DT_NEEDED); build with CGO_ENABLED=0", libs)
	}
	return nil
}

// entry is one file of the zip.
type entry struct {
	name string      // slash-separated path in the zip
	src  string      // file to copy
	mode fs.FileMode // permission bits recorded in the zip
}

// Core Tools' built-in exclusions (FileSystemHelpers.GetLocalFiles), applied at any depth.
var (
	alwaysSkipDirs  = []string{".git", ".vscode"}
	alwaysSkipFiles = []string{".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}
)

// selectFiles walks root like Core Tools and returns the files .funcignore accepts, sorted.
// The root-level "handler" is skipped (the freshly built one replaces it), and so is the output
// zip itself.
func selectFiles(root string, ignore *funcignore, out string) ([]entry, error) {
	var files []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel := filepath.ToSlash(mustRel(root, p))
		if d.IsDir() {
			if containsFold(alwaysSkipDirs, d.Name()) || ignore.deniesTree(rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || containsFold(alwaysSkipFiles, d.Name()) || p == out || rel == "handler" {
			return nil
		}
		if !ignore.accepts(rel) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		files = append(files, entry{name: rel, src: p, mode: mode})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("select files: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, nil
}

func mustRel(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return rel
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// checkLayout makes sure host.json and every function folder of the app made it into files.
func checkLayout(root string, files []entry) error {
	have := map[string]bool{}
	for _, f := range files {
		have[f.name] = true
	}
	if !have["host.json"] {
		return errors.New(".funcignore excludes host.json")
	}
	dirs, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, d.Name(), "function.json")); err == nil && !have[d.Name()+"/function.json"] {
			return fmt.Errorf(".funcignore excludes the function folder %s", d.Name())
		}
	}
	return nil
}

// zipTime is the modification time of every entry, so the same inputs give the same zip.
var zipTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// writeZip writes entries to out (through a temporary file, renamed at the end).
func writeZip(out string, entries []entry) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".functionapp-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw := zip.NewWriter(tmp)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: zipTime}
		h.SetMode(e.mode) // also marks the entry as made on Unix, so unzip restores the bits
		w, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("zip %s: %w", e.name, err)
		}
		src, err := os.Open(e.src)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, src)
		src.Close()
		if err != nil {
			return fmt.Errorf("zip %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// funcignore reproduces Azure Functions Core Tools' GitIgnoreParser (a port of the
// gitignore-parser npm package): every non-comment line is a pattern; "!" negates; a leading "/"
// is dropped; "**" matches anything and "*" anything but "/"; each pattern is anchored at the
// START of the path from the app root and matches as a PREFIX (so "*.go" matches "main.go" but
// not "internal/x.go", and "tools/" matches everything below tools). A path is accepted when a
// negated pattern matches it or no pattern does.
type funcignore struct {
	positive, negative *regexp.Regexp
}

func parseFuncignore(text string) *funcignore {
	var pos, neg []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		negated := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(line, "!")
		line = strings.TrimPrefix(line, "/")
		if negated {
			neg = append(neg, patternRegexp(line))
		} else {
			pos = append(pos, patternRegexp(line))
		}
	}
	return &funcignore{positive: unionRegexp(pos), negative: unionRegexp(neg)}
}

// patternRegexp mirrors GitIgnoreParser.PrepareRegexPattern.
func patternRegexp(p string) string {
	p = regexp.MustCompile(`[\-\[\]/{}()+?.\\^$|]`).ReplaceAllString(p, `\$0`)
	p = strings.ReplaceAll(p, "**", "(.+)")
	// Replace single stars without touching the "(.+)" just produced (it has no '*').
	return strings.ReplaceAll(p, "*", `([^/]+)`)
}

func unionRegexp(parts []string) *regexp.Regexp {
	if len(parts) == 0 {
		return nil
	}
	sort.Strings(parts)
	return regexp.MustCompile("^((" + strings.Join(parts, ")|(") + "))")
}

// accepts reports whether the slash-separated relative path is deployed.
func (fi *funcignore) accepts(rel string) bool {
	if fi.negative != nil && fi.negative.MatchString(rel) {
		return true
	}
	return fi.positive == nil || !fi.positive.MatchString(rel)
}

// deniesTree reports whether every path under dir is denied, so the walk can skip it: the
// positive patterns match dir+"/" (a prefix of every path below it) and no negation exists.
func (fi *funcignore) deniesTree(dir string) bool {
	return fi.negative == nil && fi.positive != nil && fi.positive.MatchString(path.Clean(dir)+"/")
}
