package vmtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Mode bits of the newc format (the st_mode of stat(2)).
const (
	cpioDir     = 0o040000
	cpioRegular = 0o100000
	cpioSymlink = 0o120000
	cpioCharDev = 0o020000
)

// ErrCPIO is wrapped by the errors of CPIOWriter: a bad name or a write
// after Close.
var ErrCPIO = errors.New("cpio")

// CPIOWriter writes a newc ("070701") cpio archive, the format the kernel
// unpacks as an initramfs. Names are relative to the root ("bin/busybox");
// missing parent directories are added automatically, before their children.
// The first error sticks: later calls do nothing, and Close returns it.
type CPIOWriter struct {
	w    *bufio.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

// NewCPIOWriter returns a writer of a newc archive to w.
func NewCPIOWriter(w io.Writer) *CPIOWriter {
	return &CPIOWriter{w: bufio.NewWriterSize(w, 1<<20), dirs: map[string]bool{}}
}

// Dir adds the directory name (and its missing parents) with permissions 0755.
func (c *CPIOWriter) Dir(name string) {
	if d := path.Clean(strings.TrimPrefix(name, "/")); d == "." || d == "/" {
		return // the root exists
	}
	name, ok := c.clean(name)
	if !ok || c.dirs[name] {
		return
	}
	c.Dir(path.Dir(name))
	c.dirs[name] = true
	c.header(name, cpioDir|0o755, 0, 0, 0)
}

// Bytes adds a regular file holding data.
func (c *CPIOWriter) Bytes(name string, perm fs.FileMode, data []byte) {
	c.File(name, perm, int64(len(data)), bytes.NewReader(data))
}

// File adds a regular file of size bytes read from r. It fails when r holds
// fewer than size bytes.
func (c *CPIOWriter) File(name string, perm fs.FileMode, size int64, r io.Reader) {
	name, ok := c.clean(name)
	if !ok {
		return
	}
	if size > 0xffffffff {
		c.err = fmt.Errorf("%w: %s: %d bytes is too big for newc", ErrCPIO, name, size)
		return
	}
	c.Dir(path.Dir(name))
	c.header(name, cpioRegular|uint32(perm.Perm()), uint32(size), 0, 0)
	if c.err != nil {
		return
	}
	if _, err := io.CopyN(c.w, r, size); err != nil {
		c.err = fmt.Errorf("%w: %s: %w", ErrCPIO, name, err)
		return
	}
	c.pad(size)
}

// CopyFile adds the host file src as name, keeping its permission bits.
func (c *CPIOWriter) CopyFile(name, src string) {
	if c.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		c.err = fmt.Errorf("%w: %w", ErrCPIO, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		c.err = fmt.Errorf("%w: %w", ErrCPIO, err)
		return
	}
	c.File(name, fi.Mode(), fi.Size(), f)
}

// CopyTree adds the host directory tree src under name: directories,
// regular files and symbolic links (other files are left out).
func (c *CPIOWriter) CopyTree(name, src string) {
	if c.err != nil {
		return
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := path.Join(name, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			c.Dir(dst)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			c.Symlink(dst, target)
		case d.Type().IsRegular():
			c.CopyFile(dst, p)
		}
		return c.err
	})
	if err != nil && c.err == nil {
		c.err = fmt.Errorf("%w: copying %s: %w", ErrCPIO, src, err)
	}
}

// Symlink adds a symbolic link name pointing at target.
func (c *CPIOWriter) Symlink(name, target string) {
	name, ok := c.clean(name)
	if !ok {
		return
	}
	c.Dir(path.Dir(name))
	c.header(name, cpioSymlink|0o777, uint32(len(target)), 0, 0)
	if c.err != nil {
		return
	}
	if _, err := c.w.WriteString(target); err != nil {
		c.err = fmt.Errorf("%w: %w", ErrCPIO, err)
		return
	}
	c.pad(int64(len(target)))
}

// CharDev adds a character device node, e.g. ("dev/console", 5, 1). The
// archive needs no privileges to write; the kernel creates the node.
func (c *CPIOWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) {
	name, ok := c.clean(name)
	if !ok {
		return
	}
	c.Dir(path.Dir(name))
	c.header(name, cpioCharDev|uint32(perm.Perm()), 0, major, minor)
}

// Close writes the trailer and flushes. It returns the first error of any
// earlier call.
func (c *CPIOWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	c.header("TRAILER!!!", 0, 0, 0, 0)
	if c.err != nil {
		return c.err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("%w: %w", ErrCPIO, err)
	}
	c.err = fmt.Errorf("%w: writer is closed", ErrCPIO)
	return nil
}

// clean normalises an archive name, failing on names that leave the root.
func (c *CPIOWriter) clean(name string) (string, bool) {
	if c.err != nil {
		return "", false
	}
	name = path.Clean(strings.TrimPrefix(name, "/"))
	if name == "." || name == ".." || strings.HasPrefix(name, "../") {
		c.err = fmt.Errorf("%w: bad name %q", ErrCPIO, name)
		return "", false
	}
	return name, true
}

// header writes one newc header and the NUL-terminated, padded name.
func (c *CPIOWriter) header(name string, mode, size, rmajor, rminor uint32) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
	// rdevmajor, rdevminor, namesize, check.
	_, err := fmt.Fprintf(c.w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\x00",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0, name)
	if err != nil {
		c.err = fmt.Errorf("%w: %w", ErrCPIO, err)
		return
	}
	c.pad(int64(110 + len(name) + 1))
}

// pad writes zeros up to the next multiple of four bytes after n bytes.
func (c *CPIOWriter) pad(n int64) {
	if r := n % 4; r != 0 {
		if _, err := c.w.Write(make([]byte, 4-r)); err != nil {
			c.err = fmt.Errorf("%w: %w", ErrCPIO, err)
		}
	}
}
