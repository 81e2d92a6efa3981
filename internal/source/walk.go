package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// EntryKind says what the walk found.
type EntryKind int

const (
	// KindFile is a regular file to examine.
	KindFile EntryKind = iota
	// KindSkipped is an entry that cannot or must not be examined (FIFO,
	// device, socket, link out of the tree, unreadable directory ...);
	// Reason says why. It is reported, never counted as clean.
	KindSkipped
	// KindLinkInTree is a symbolic link whose target lies inside a walked
	// tree: the target is examined at its own path, so the link is only
	// counted.
	KindLinkInTree
	// KindExcluded matched an --exclude pattern.
	KindExcluded
)

// Entry is one thing the walk found.
type Entry struct {
	// Path is where the entry was found (absolute, raw bytes).
	Path string
	// Root is the walked root that Path lies under.
	Root string
	// Open is the path to open: Path itself, or the resolved target of a
	// followed link.
	Open   string
	Kind   EntryKind
	Info   Info
	Reason string
}

// WalkOptions tune a walk.
type WalkOptions struct {
	// Exclude holds glob patterns (path/filepath.Match syntax) matched
	// against each entry's base name and its path relative to the root.
	Exclude []string
	// OneFileSystem keeps the walk on the file system of each root.
	OneFileSystem bool
	// FollowLinks follows symbolic links, also out of the tree, with loop
	// detection. Off by default: evidence trees are read as they are.
	FollowLinks bool
	// Workers is the number of directories read at once (default 4).
	Workers int
}

// Walk walks roots in parallel and sends every entry to out. It returns
// when the walk is complete or ctx is done; it does not close out. Entries
// arrive in no particular order.
func Walk(ctx context.Context, roots []string, opts WalkOptions, out chan<- Entry) error {
	for _, p := range opts.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("exclude pattern %q: %w", p, err)
		}
	}
	w := &walker{opts: opts, out: out, ctx: ctx}
	if w.opts.Workers <= 0 {
		w.opts.Workers = 4
	}
	for _, r := range roots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return fmt.Errorf("%s: %w", r, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return fmt.Errorf("%s: %w", r, err)
		}
		w.roots = append(w.roots, rootInfo{given: abs, real: real})
	}
	w.sem = make(chan struct{}, w.opts.Workers)
	for _, r := range w.roots {
		fi, err := os.Stat(r.given)
		if err != nil {
			return fmt.Errorf("%s: %w", r.given, err)
		}
		in := InfoOf(fi)
		if !fi.IsDir() {
			w.entry(r, r.given, fi.Name(), in, r.given)
			continue
		}
		w.wg.Add(1)
		go w.dir(r, r.given, in.Dev, []devIno{{in.Dev, in.Ino}})
	}
	w.wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

type rootInfo struct{ given, real string }

type devIno struct{ dev, ino uint64 }

type walker struct {
	ctx   context.Context
	opts  WalkOptions
	out   chan<- Entry
	roots []rootInfo
	sem   chan struct{}
	wg    sync.WaitGroup
}

func (w *walker) send(e Entry) bool {
	select {
	case w.out <- e:
		return true
	case <-w.ctx.Done():
		return false
	}
}

func (w *walker) excluded(r rootInfo, path, name string) bool {
	if len(w.opts.Exclude) == 0 {
		return false
	}
	rel, err := filepath.Rel(r.given, path)
	if err != nil {
		rel = path
	}
	for _, p := range w.opts.Exclude {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
		if ok, _ := filepath.Match(p, rel); ok {
			return true
		}
	}
	return false
}

// dir reads one directory and hands its subdirectories to new goroutines,
// at most Workers reading at once. ancestors holds the directories on the
// way down, for loop detection when links are followed.
func (w *walker) dir(r rootInfo, path string, rootDev uint64, ancestors []devIno) {
	defer w.wg.Done()
	if w.ctx.Err() != nil {
		return
	}
	w.sem <- struct{}{}
	names, err := readDirNames(path)
	<-w.sem
	if err != nil {
		w.send(Entry{Path: path, Root: r.given, Open: path, Kind: KindSkipped, Reason: "cannot read directory: " + errReason(err)})
		if names == nil {
			return
		}
	}
	for _, name := range names {
		if w.ctx.Err() != nil {
			return
		}
		child := filepath.Join(path, name)
		fi, err := os.Lstat(child)
		if err != nil {
			w.send(Entry{Path: child, Root: r.given, Open: child, Kind: KindSkipped, Reason: "cannot stat: " + errReason(err)})
			continue
		}
		in := InfoOf(fi)
		if w.excluded(r, child, name) {
			w.send(Entry{Path: child, Root: r.given, Kind: KindExcluded, Info: in, Reason: "excluded"})
			continue
		}
		switch {
		case fi.IsDir():
			if w.opts.OneFileSystem && in.Dev != rootDev {
				w.send(Entry{Path: child, Root: r.given, Kind: KindSkipped, Info: in, Reason: "other file system (--one-file-system)"})
				continue
			}
			w.wg.Add(1)
			go w.dir(r, child, rootDev, append(ancestors[:len(ancestors):len(ancestors)], devIno{in.Dev, in.Ino}))
		case fi.Mode()&fs.ModeSymlink != 0:
			w.link(r, child, in, rootDev, ancestors)
		default:
			w.entry(r, child, name, in, child)
		}
	}
}

func (w *walker) entry(r rootInfo, path, name string, in Info, open string) {
	if !in.Mode.IsRegular() {
		w.send(Entry{Path: path, Root: r.given, Open: open, Kind: KindSkipped, Info: in, Reason: KindOf(in.Mode) + ": not opened"})
		return
	}
	w.send(Entry{Path: path, Root: r.given, Open: open, Kind: KindFile, Info: in})
}

func (w *walker) link(r rootInfo, path string, lin Info, rootDev uint64, ancestors []devIno) {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		reason := "dangling symbolic link"
		if !errors.Is(err, fs.ErrNotExist) {
			reason = "symbolic link: " + errReason(err)
		}
		w.send(Entry{Path: path, Root: r.given, Kind: KindSkipped, Info: lin, Reason: reason})
		return
	}
	inTree := false
	for _, root := range w.roots {
		if target == root.real || strings.HasPrefix(target, root.real+string(filepath.Separator)) {
			inTree = true
			break
		}
	}
	if !w.opts.FollowLinks {
		if inTree {
			w.send(Entry{Path: path, Root: r.given, Kind: KindLinkInTree, Info: lin, Reason: "symbolic link inside the tree: target examined at its own path"})
		} else {
			w.send(Entry{Path: path, Root: r.given, Kind: KindSkipped, Info: lin, Reason: "symbolic link out of the tree: not followed (--follow-links to follow)"})
		}
		return
	}
	fi, err := os.Stat(target)
	if err != nil {
		w.send(Entry{Path: path, Root: r.given, Kind: KindSkipped, Info: lin, Reason: "symbolic link: " + errReason(err)})
		return
	}
	in := InfoOf(fi)
	if fi.IsDir() {
		for _, a := range ancestors {
			if a == (devIno{in.Dev, in.Ino}) {
				w.send(Entry{Path: path, Root: r.given, Kind: KindSkipped, Info: lin, Reason: "symbolic link loop: not followed"})
				return
			}
		}
		if w.opts.OneFileSystem && in.Dev != rootDev {
			w.send(Entry{Path: path, Root: r.given, Kind: KindSkipped, Info: in, Reason: "other file system (--one-file-system)"})
			return
		}
		w.wg.Add(1)
		go w.dir(r, path, rootDev, append(ancestors[:len(ancestors):len(ancestors)], devIno{in.Dev, in.Ino}))
		return
	}
	w.entry(r, path, filepath.Base(path), in, target)
}

// readDirNames lists a directory without sorting and without stat calls.
// On a partial failure it returns the names read so far and the error.
func readDirNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var all []string
	for {
		names, err := f.Readdirnames(1024)
		all = append(all, names...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return all, nil
			}
			return all, err
		}
	}
}

func errReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
