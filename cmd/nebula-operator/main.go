// Command nebula-operator is the controller manager: it runs the
// NebulaCluster, NebulaBackup, NebulaCronBackup and NebulaRestore
// controllers, serves Prometheus metrics (--metrics-bind-address) and health
// probes (--health-probe-bind-address: /healthz and /readyz), and with
// --leader-elect only one replica acts. It takes upstream nebula-operator's
// controller-manager flags (watched namespaces, object selector, sync
// period, per-kind concurrency, leader election, pprof, --v), so that its
// chart's command line runs unchanged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	_ "github.com/nebula-open/nebula-br/internal/controller" // metrics registration
	"github.com/nebula-open/nebula-br/internal/controller/nebulabackup"
	"github.com/nebula-open/nebula-br/internal/controller/nebulacluster"
	"github.com/nebula-open/nebula-br/internal/controller/nebulacronbackup"
	"github.com/nebula-open/nebula-br/internal/controller/nebularestore"
)

// controllerOptions are the controllers' manager-wide options (tests run
// several managers in one process and skip the unique-name check).
var controllerOptions config.Controller

// LeaderElectionID is the Lease the replicas compete for: upstream's name,
// so that ours and upstream's operator never both act on one cluster.
const LeaderElectionID = "nebula-controller-manager"

func main() {
	err := run(ctrl.SetupSignalHandler(), os.Args[1:], nil)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nebula-operator:", err)
		os.Exit(1)
	}
}

// options are the command line: upstream nebula-operator's controller
// manager flags (its chart passes them), and ours.
type options struct {
	metricsAddr, probeAddr string
	leaderElect            bool
	leaderElectNamespace   string
	leaseDuration          time.Duration
	renewDeadline          time.Duration
	retryPeriod            time.Duration
	syncPeriod             time.Duration
	watchNamespaces        string
	objectSelector         string
	concurrency            map[string]*int // GroupKind -> concurrent reconciles
	enablePprof            bool
	pprofAddr              string
	verbosity              int
	debug                  bool
	// Upstream's, accepted so its command lines work; acted on as said.
	admissionWebhook, kruiseScheme bool

	brImage, agentImage string
	kubeconfig          string
	restoreTimeout      time.Duration
}

// kinds whose concurrency upstream's --concurrent-<kind>-syncs set.
var kinds = []string{"NebulaCluster", "NebulaBackup", "NebulaCronBackup", "NebulaRestore"}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("nebula-operator", flag.ContinueOnError)
	o := &options{concurrency: map[string]*int{}}
	fs.DurationVar(&o.restoreTimeout, "restore-timeout", time.Hour, "how long a NebulaRestore may take unless its spec.timeout says otherwise")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, or $KUBECONFIG, or ~/.kube/config)")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 disables it)")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	fs.StringVar(&o.leaderElectNamespace, "leader-elect-resource-namespace", "", "namespace of the leader election Lease (default: the pod's namespace)")
	fs.StringVar(&o.leaderElectNamespace, "leader-election-namespace", "", "the same as --leader-elect-resource-namespace")
	fs.DurationVar(&o.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a non-leader waits after the last renewal before it may take the lead")
	fs.DurationVar(&o.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it steps down")
	fs.DurationVar(&o.retryPeriod, "leader-elect-retry-period", 2*time.Second, "how long clients wait between attempts to acquire or renew the lead")
	fs.DurationVar(&o.syncPeriod, "sync-period", 0, "how often every watched object is reconciled again even without a change (0: controller-runtime's default, 10h)")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", "", "comma-separated namespaces to watch (default: all)")
	fs.StringVar(&o.objectSelector, "nebula-object-selector", "", "label selector (=, ==, !=) the watched objects must match, e.g. key1=value1,key2!=value2")
	for _, k := range kinds {
		n := new(int)
		fs.IntVar(n, "concurrent-"+strings.ToLower(k)+"-syncs", 5, "how many "+k+" objects are reconciled at once")
		o.concurrency[k+"."+v1alpha1.GroupVersion.Group] = n
	}
	fs.BoolVar(&o.enablePprof, "enable-pprof", false, "serve Go's profiles at --profiling-bind-address/debug/pprof/")
	fs.StringVar(&o.pprofAddr, "profiling-bind-address", ":6060", "address of the profiles, with --enable-pprof")
	fs.IntVar(&o.verbosity, "v", 0, "log verbosity, as upstream's (4 or more: debug)")
	fs.BoolVar(&o.debug, "debug", false, "log at debug level")
	fs.BoolVar(&o.admissionWebhook, "enable-admission-webhook", false, "upstream's validating webhook: not served (the CRD schemas validate); true logs a warning")
	fs.BoolVar(&o.kruiseScheme, "enable-kruise-scheme", false, "upstream's OpenKruise workloads: not supported; true is refused")
	for _, name := range []string{"webhook-bind-address", "webhook-cert-dir", "webhook-tls-cert-file-name", "webhook-tls-private-key-file-name",
		"certificate-validity", "kube-domain", "secret-name", "secret-namespace", "webhook-tls-min-version", "webhook-server-name",
		"webhook-namespace", "webhook-names"} {
		fs.String(name, "", "upstream's admission webhook flag (accepted, unused: no webhook is served)")
	}
	fs.Int("webhook-secure-port", 9443, "upstream's admission webhook flag (accepted, unused)")
	fs.Bool("use-cert-generator", false, "upstream's admission webhook flag (accepted, unused)")
	fs.StringVar(&o.brImage, "br-image", nebulabackup.DefaultBRImage, "br image of backup Jobs whose NebulaBackup names none")
	fs.StringVar(&o.agentImage, "agent-image", nebulacluster.DefaultAgentImage, "ng-agent (br-agent) image of clusters whose spec.agent names none")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.kruiseScheme {
		return nil, errors.New("--enable-kruise-scheme: OpenKruise workloads are not supported; run without it (StatefulSets are used)")
	}
	for k, n := range o.concurrency {
		if *n < 1 {
			return nil, fmt.Errorf("--concurrent-%s-syncs %d: must be at least 1", strings.ToLower(strings.SplitN(k, ".", 2)[0]), *n)
		}
	}
	if o.objectSelector != "" {
		if _, err := labels.Parse(o.objectSelector); err != nil {
			return nil, fmt.Errorf("--nebula-object-selector %q: %w", o.objectSelector, err)
		}
	}
	return o, nil
}

// managerOptions turns the command line into the manager's options.
func (o *options) managerOptions(scheme *runtime.Scheme) ctrl.Options {
	ctrlOpts := controllerOptions
	ctrlOpts.GroupKindConcurrency = map[string]int{}
	for k, n := range o.concurrency {
		ctrlOpts.GroupKindConcurrency[k] = *n
	}
	opts := ctrl.Options{
		Scheme:                  scheme,
		Controller:              ctrlOpts,
		Metrics:                 metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: o.leaderElectNamespace,
		LeaseDuration:           &o.leaseDuration,
		RenewDeadline:           &o.renewDeadline,
		RetryPeriod:             &o.retryPeriod,
		// The process exits right after the manager stops: hand the
		// Lease over at once.
		LeaderElectionReleaseOnCancel: true,
	}
	if o.syncPeriod > 0 {
		opts.Cache.SyncPeriod = &o.syncPeriod
	}
	if ns := splitList(o.watchNamespaces); len(ns) > 0 {
		opts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, n := range ns {
			opts.Cache.DefaultNamespaces[n] = cache.Config{}
		}
	}
	if o.objectSelector != "" {
		// On the Nebula objects only: what they own does not carry their labels.
		sel, _ := labels.Parse(o.objectSelector) // checked by parseFlags
		opts.Cache.ByObject = map[client.Object]cache.ByObject{}
		for _, obj := range []client.Object{&v1alpha1.NebulaCluster{}, &v1alpha1.NebulaBackup{}, &v1alpha1.NebulaCronBackup{}, &v1alpha1.NebulaRestore{}} {
			opts.Cache.ByObject[obj] = cache.ByObject{Label: sel}
		}
	}
	if o.enablePprof {
		opts.PprofBindAddress = o.pprofAddr
	}
	return opts
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// run runs the manager until ctx ends. cfg nil: the usual kubeconfig
// lookup (in-cluster, $KUBECONFIG, --kubeconfig).
func run(ctx context.Context, args []string, cfg *rest.Config) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.debug || o.verbosity >= 4 {
		level = slog.LevelDebug
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	log := ctrl.Log.WithName("setup")
	if o.admissionWebhook {
		log.Info("WARNING: --enable-admission-webhook: no admission webhook is served; the CRDs' schemas and the controllers validate")
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))

	if cfg == nil {
		if o.kubeconfig != "" {
			cfg, err = clientcmd.BuildConfigFromFlags("", o.kubeconfig)
		} else {
			cfg, err = ctrl.GetConfig()
		}
		if err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
	}
	mgr, err := ctrl.NewManager(cfg, o.managerOptions(scheme))
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	brImage, agentImage, restoreTimeout := o.brImage, o.agentImage, o.restoreTimeout
	if err := (&nebulacluster.Reconciler{Images: nebulacluster.Images{Agent: agentImage}}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("NebulaCluster controller: %w", err)
	}
	if err := (&nebulabackup.Reconciler{BRImage: brImage}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("NebulaBackup controller: %w", err)
	}
	if err := (&nebulacronbackup.Reconciler{}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("NebulaCronBackup controller: %w", err)
	}
	if err := (&nebularestore.Reconciler{Timeout: restoreTimeout}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("NebulaRestore controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("starting manager", "metrics", o.metricsAddr, "probes", o.probeAddr, "leaderElect", o.leaderElect,
		"namespaces", splitList(o.watchNamespaces), "selector", o.objectSelector, "pprof", o.enablePprof)
	return mgr.Start(ctx)
}
