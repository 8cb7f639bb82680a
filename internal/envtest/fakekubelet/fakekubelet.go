// Package fakekubelet is a stand-in, for envtest, for the two parts of
// Kubernetes that envtest lacks and that a restore needs: the StatefulSet
// controller and the kubelet. It is a fake, named as such: it runs each
// StatefulSet pod's init containers, then its containers, as local
// processes of our real binaries, and reports readiness in the
// StatefulSet's status.
//
// A pod gets its own loopback address, published with its DNS name in a
// hosts file (internal/hostmap), and its own directory standing for the
// container filesystem: paths under /usr/local/nebula in arguments and
// ConfigMap files are moved under it, containers run in its
// /usr/local/nebula (NebulaGraph images' working directory) unless they
// name theirs, and a ConfigMap file mounted by subPath is written where it
// is mounted. A changed pod template restarts the
// pods, as a rolling update would; data directories survive, as
// PersistentVolumes do.
package fakekubelet

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/internal/hostmap"
)

// Kubelet runs the StatefulSets of one namespace.
type Kubelet struct {
	Client    client.Client
	Namespace string
	Root      string            // pod directories
	HostsFile string            // the NEBULA_HOSTS_FILE the pods and the test share
	Binaries  map[string]string // base name of a container command -> local binary
	IPBase    [3]byte           // pods get IPBase.1, IPBase.2, ...
	Logf      func(format string, args ...any)

	mu     sync.Mutex
	pods   map[string]*pod // "sts-ordinal"
	ips    map[string]string
	nextIP int
}

type pod struct {
	generation int64
	cancel     context.CancelFunc
	done       chan struct{}
	ready      bool
	readyMu    sync.Mutex
}

// Run syncs until ctx ends, then stops every pod.
func (k *Kubelet) Run(ctx context.Context) {
	k.pods, k.ips = map[string]*pod{}, map[string]string{}
	if k.Logf == nil {
		k.Logf = func(string, ...any) {}
	}
	for {
		k.sync(ctx)
		select {
		case <-ctx.Done():
			k.mu.Lock()
			for _, p := range k.pods {
				p.cancel()
				<-p.done
			}
			k.mu.Unlock()
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// IP is the address of a pod (once it has run).
func (k *Kubelet) IP(podName string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ips[podName]
}

// PodDir is the directory standing for a pod's filesystem.
func (k *Kubelet) PodDir(podName string) string { return filepath.Join(k.Root, podName) }

func (k *Kubelet) sync(ctx context.Context) {
	var list appsv1.StatefulSetList
	if err := k.Client.List(ctx, &list, client.InNamespace(k.Namespace)); err != nil {
		return
	}
	seen := map[string]bool{}
	for i := range list.Items {
		sts := &list.Items[i]
		n := 1
		if sts.Spec.Replicas != nil {
			n = int(*sts.Spec.Replicas)
		}
		ready := 0
		for ord := 0; ord < n; ord++ {
			name := fmt.Sprintf("%s-%d", sts.Name, ord)
			seen[name] = true
			k.mu.Lock()
			p := k.pods[name]
			if p != nil && p.generation != sts.Generation {
				k.Logf("fakekubelet: %s: template changed, restarting", name)
				p.cancel()
				<-p.done
				p = nil
			}
			if p == nil {
				p = k.start(ctx, sts.DeepCopy(), ord)
				k.pods[name] = p
			}
			k.mu.Unlock()
			p.readyMu.Lock()
			if p.ready {
				ready++
			}
			p.readyMu.Unlock()
		}
		if sts.Status.ObservedGeneration != sts.Generation || int(sts.Status.ReadyReplicas) != ready || int(sts.Status.UpdatedReplicas) != n {
			sts.Status.ObservedGeneration = sts.Generation
			sts.Status.Replicas, sts.Status.CurrentReplicas, sts.Status.UpdatedReplicas = int32(n), int32(n), int32(n)
			sts.Status.ReadyReplicas, sts.Status.AvailableReplicas = int32(ready), int32(ready)
			k.Client.Status().Update(ctx, sts) // a conflict is retried next pass
		}
	}
	k.mu.Lock()
	for name, p := range k.pods {
		if !seen[name] {
			p.cancel()
			<-p.done
			delete(k.pods, name)
		}
	}
	k.mu.Unlock()
}

// start runs one pod in the background. Called with k.mu held.
func (k *Kubelet) start(ctx context.Context, sts *appsv1.StatefulSet, ord int) *pod {
	name := fmt.Sprintf("%s-%d", sts.Name, ord)
	fqdn := fmt.Sprintf("%s.%s.%s.svc.cluster.local", name, sts.Spec.ServiceName, sts.Namespace)
	ip := k.ips[name]
	if ip == "" {
		k.nextIP++
		ip = fmt.Sprintf("%d.%d.%d.%d", k.IPBase[0], k.IPBase[1], k.IPBase[2], k.nextIP)
		k.ips[name] = ip
		f, err := os.OpenFile(k.HostsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %s\n", ip, fqdn)
			f.Close()
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &pod{generation: sts.Generation, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if err := k.runPod(pctx, p, sts, name, ip); err != nil && pctx.Err() == nil {
			k.Logf("fakekubelet: pod %s: %v", name, err)
		}
	}()
	return p
}

func (k *Kubelet) runPod(ctx context.Context, p *pod, sts *appsv1.StatefulSet, name, ip string) error {
	dir := k.PodDir(name)
	spec := sts.Spec.Template.Spec
	if err := k.mountConfigMaps(ctx, dir, spec); err != nil {
		return err
	}
	env := map[string]string{"POD_NAME": name}
	for _, ct := range spec.InitContainers {
		cmd, err := k.command(dir, name, ct, env)
		if err != nil {
			return err
		}
		k.Logf("fakekubelet: %s: init container %s starts", name, ct.Name)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("init container %s: %w", ct.Name, err)
		}
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			if err != nil {
				return fmt.Errorf("init container %s failed: %v (see %s)", ct.Name, err, k.logPath(dir, ct.Name))
			}
			k.Logf("fakekubelet: %s: init container %s done", name, ct.Name)
		case <-ctx.Done():
			stop(cmd, waited)
			return nil
		}
	}
	var running []*exec.Cmd
	var waits []chan error
	for _, ct := range spec.Containers {
		cmd, err := k.command(dir, name, ct, env)
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("container %s: %w", ct.Name, err)
		}
		w := make(chan error, 1)
		go func() { w <- cmd.Wait() }()
		running, waits = append(running, cmd), append(waits, w)
	}
	defer func() {
		for i, cmd := range running {
			stop(cmd, waits[i])
		}
	}()
	// Readiness: the first container's first port accepts connections.
	if ports := spec.Containers[0].Ports; len(ports) > 0 {
		addr := net.JoinHostPort(ip, fmt.Sprint(ports[0].ContainerPort))
		for ctx.Err() == nil {
			if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				c.Close()
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	p.readyMu.Lock()
	p.ready = ctx.Err() == nil
	p.readyMu.Unlock()
	<-ctx.Done()
	return nil
}

func stop(cmd *exec.Cmd, waited chan error) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-waited
	}
}

// containerRoot is what the pod's paths start with.
const containerRoot = "/usr/local/nebula"

func (k *Kubelet) translate(dir, s string) string {
	return strings.ReplaceAll(s, containerRoot, filepath.Join(dir, "nebula"))
}

// mountConfigMaps writes the files of ConfigMap volumes where the
// containers mount them.
func (k *Kubelet) mountConfigMaps(ctx context.Context, dir string, spec corev1.PodSpec) error {
	for _, v := range spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		cm := &corev1.ConfigMap{}
		if err := k.Client.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: v.ConfigMap.Name}, cm); err != nil {
			return fmt.Errorf("ConfigMap %s: %w", v.ConfigMap.Name, err)
		}
		for _, ct := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
			for _, m := range ct.VolumeMounts {
				if m.Name != v.Name {
					continue
				}
				files := configMapFiles(cm, v.ConfigMap)
				target := k.translate(dir, m.MountPath)
				if m.SubPath != "" {
					// One file of the volume, mounted as a file.
					data, ok := files[m.SubPath]
					if !ok {
						return fmt.Errorf("ConfigMap %s has no %s (subPath of %s)", cm.Name, m.SubPath, m.MountPath)
					}
					if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(target, []byte(k.translate(dir, data)), 0o644); err != nil {
						return err
					}
					continue
				}
				if err := os.MkdirAll(target, 0o755); err != nil {
					return err
				}
				for file, data := range files {
					if err := os.WriteFile(filepath.Join(target, file), []byte(k.translate(dir, data)), 0o644); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// configMapFiles are the files of a ConfigMap volume: its items (key at
// path), or every key.
func configMapFiles(cm *corev1.ConfigMap, src *corev1.ConfigMapVolumeSource) map[string]string {
	out := map[string]string{}
	if len(src.Items) == 0 {
		for k, v := range cm.Data {
			out[k] = v
		}
		return out
	}
	for _, it := range src.Items {
		if v, ok := cm.Data[it.Key]; ok {
			out[it.Path] = v
		}
	}
	return out
}

var varRE = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func (k *Kubelet) command(dir, podName string, ct corev1.Container, podEnv map[string]string) (*exec.Cmd, error) {
	if len(ct.Command) == 0 {
		return nil, fmt.Errorf("container %s has no command", ct.Name)
	}
	bin := k.Binaries[filepath.Base(ct.Command[0])]
	if bin == "" {
		return nil, fmt.Errorf("container %s: no local binary for %s", ct.Name, ct.Command[0])
	}
	vars := map[string]string{}
	for k, v := range podEnv {
		vars[k] = v
	}
	var env []string
	for _, e := range ct.Env {
		val := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
			val = podName
		}
		val = varRE.ReplaceAllStringFunc(val, func(m string) string { return vars[m[2:len(m)-1]] })
		vars[e.Name] = val
		env = append(env, e.Name+"="+val)
	}
	var args []string
	for _, a := range append(ct.Command[1:], ct.Args...) {
		a = varRE.ReplaceAllStringFunc(a, func(m string) string {
			if v, ok := vars[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		})
		args = append(args, k.translate(dir, a))
	}
	for _, m := range ct.VolumeMounts {
		// A file mounted by subPath is in place already (mountConfigMaps).
		if p := k.translate(dir, m.MountPath); !exists(p) {
			os.MkdirAll(p, 0o755)
		}
	}
	// The working directory: the container's, else NebulaGraph's images'
	// (/usr/local/nebula), where relative paths of flag files lead.
	wd := ct.WorkingDir
	if wd == "" {
		wd = containerRoot
	}
	wd = k.translate(dir, wd)
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), hostmap.EnvFile+"="+k.HostsFile), env...)
	cmd.Dir = wd
	log, err := os.OpenFile(k.logPath(dir, ct.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	return cmd, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (k *Kubelet) logPath(dir, container string) string {
	os.MkdirAll(dir, 0o755)
	return filepath.Join(dir, container+".log")
}
