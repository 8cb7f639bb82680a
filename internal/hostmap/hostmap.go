// Package hostmap resolves the host names NebulaGraph services know each
// other by into addresses to dial and listen on.
//
// In Kubernetes a service's identity is its pod's DNS name and the cluster
// DNS resolves it. Tests that stand real processes behind pod names on one
// machine, with no cluster DNS, point NEBULA_HOSTS_FILE at a file in
// /etc/hosts format ("127.0.0.51 nc-storaged-0.nc-storaged-headless.ns.svc.cluster.local");
// names found there map to their address, everything else is left to the
// system resolver. The file is re-read when it changes, because names are
// added as pods appear.
package hostmap

import (
	"bufio"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// EnvFile is the environment variable naming the hosts file.
const EnvFile = "NEBULA_HOSTS_FILE"

var cache struct {
	sync.Mutex
	path  string
	mtime time.Time
	size  int64
	hosts map[string]string
}

func lookup(host string) (string, bool) {
	path := os.Getenv(EnvFile)
	if path == "" || host == "" {
		return "", false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	cache.Lock()
	defer cache.Unlock()
	if cache.path != path || !fi.ModTime().Equal(cache.mtime) || fi.Size() != cache.size {
		cache.hosts = parse(path)
		cache.path, cache.mtime, cache.size = path, fi.ModTime(), fi.Size()
	}
	ip, ok := cache.hosts[strings.ToLower(host)]
	return ip, ok
}

func parse(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 || net.ParseIP(fields[0]) == nil {
			continue
		}
		for _, name := range fields[1:] {
			out[strings.ToLower(name)] = fields[0]
		}
	}
	return out
}

// Dial returns the address to dial for host:port.
func Dial(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip, ok := lookup(host); ok {
		return net.JoinHostPort(ip, port)
	}
	return addr
}

// Listen returns the address to listen on for a service known as
// host:port: the mapped address, an IP literal as given, and for any other
// name every interface, because a pod's DNS name may not resolve yet when
// its containers start.
func Listen(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip, ok := lookup(host); ok {
		return net.JoinHostPort(ip, port)
	}
	if host == "" || host == "localhost" || net.ParseIP(host) != nil {
		return addr
	}
	return net.JoinHostPort("", port)
}
