// Command mkimage writes a single-layer container image (a docker-archive
// tarball that `ctr images import` reads) from local files, without Docker or
// a registry:
//
//	mkimage -o out.tar -t localhost/x:tag [-entrypoint /bin/x,arg] [-env K=V]... \
//	        [-user 0] [-workdir /] SRC:/DST... LINK=>TARGET...
//
// SRC:/DST copies a file (mode kept, owner root), LINK=>TARGET makes a
// symbolic link (e.g. /usr/local/bin/br-ent=>br). Parent directories,
// /tmp (1777), /etc/passwd and /etc/group are created; timestamps are zero so
// the same inputs give the same image digest.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	out := flag.String("o", "image.tar", "output tarball")
	tag := flag.String("t", "", "image reference, e.g. localhost/nebula-br/br:e2e")
	ep := flag.String("entrypoint", "", "entrypoint, comma separated")
	cmd := flag.String("cmd", "", "cmd, comma separated")
	user := flag.String("user", "", "user")
	workdir := flag.String("workdir", "/", "working directory")
	var env list
	flag.Var(&env, "env", "K=V (repeatable; default PATH=/usr/local/bin:/usr/bin:/bin)")
	flag.Parse()
	if *tag == "" {
		log.Fatal("mkimage: -t is required")
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(0, 0)
	dirs := map[string]bool{}
	write := func(h *tar.Header, data []byte) {
		h.ModTime, h.Uname, h.Gname = mt, "root", "root"
		if err := tw.WriteHeader(h); err != nil {
			log.Fatal(err)
		}
		if len(data) > 0 {
			if _, err := tw.Write(data); err != nil {
				log.Fatal(err)
			}
		}
	}
	var mkdir func(d string, mode int64)
	mkdir = func(d string, mode int64) {
		if d == "" || d == "." || dirs[d] {
			return
		}
		mkdir(path.Dir(d), 0o755)
		dirs[d] = true
		write(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}, nil)
	}
	for _, d := range []string{"bin", "etc", "usr/local/bin", "var", "dev", "proc", "sys", "root"} {
		mkdir(d, 0o755)
	}
	mkdir("tmp", 0o1777)

	args := flag.Args()
	sort.SliceStable(args, func(i, j int) bool { // files before links
		return !strings.Contains(args[i], "=>") && strings.Contains(args[j], "=>")
	})
	for _, spec := range args {
		if link, target, ok := strings.Cut(spec, "=>"); ok {
			link = strings.TrimPrefix(link, "/")
			mkdir(path.Dir(link), 0o755)
			write(&tar.Header{Typeflag: tar.TypeSymlink, Name: link, Linkname: target, Mode: 0o777}, nil)
			continue
		}
		src, dst, ok := strings.Cut(spec, ":")
		if !ok {
			log.Fatalf("mkimage: %q: want SRC:/DST or LINK=>TARGET", spec)
		}
		dst = strings.TrimPrefix(dst, "/")
		mkdir(path.Dir(dst), 0o755)
		data, err := os.ReadFile(src)
		if err != nil {
			log.Fatal(err)
		}
		st, err := os.Stat(src)
		if err != nil {
			log.Fatal(err)
		}
		write(&tar.Header{Typeflag: tar.TypeReg, Name: dst, Mode: int64(st.Mode().Perm()), Size: int64(len(data))}, data)
	}
	for n, c := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nnonroot:x:65532:65532:nonroot:/:/bin/false\n",
		"etc/group":  "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n",
	} {
		write(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(c))}, []byte(c))
	}
	if err := tw.Close(); err != nil {
		log.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		log.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		log.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		log.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	if len(env) == 0 {
		env = list{"PATH=/usr/local/bin:/usr/bin:/bin"}
	}
	cf.Config = v1.Config{Env: env, User: *user, WorkingDir: *workdir}
	if *ep != "" {
		cf.Config.Entrypoint = strings.Split(*ep, ",")
	}
	if *cmd != "" {
		cf.Config.Cmd = strings.Split(*cmd, ",")
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		log.Fatal(err)
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		log.Fatal(err)
	}
	if err := tarball.WriteToFile(*out, ref, img); err != nil {
		log.Fatal(err)
	}
	d, _ := img.Digest()
	fmt.Printf("%s %s %s\n", ref, d, *out)
}
