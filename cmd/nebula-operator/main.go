// Command nebula-operator is the controller manager: it runs the
// NebulaCluster and NebulaBackup controllers, serves Prometheus metrics
// (--metrics-bind-address) and health probes (--health-probe-bind-address:
// /healthz and /readyz), and with --leader-elect only one replica acts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/go-logr/logr"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
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

// LeaderElectionID is the Lease the replicas compete for.
const LeaderElectionID = "nebula-operator.apps.nebula-graph.io"

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

// run runs the manager until ctx ends. cfg nil: the usual kubeconfig
// lookup (in-cluster, $KUBECONFIG, --kubeconfig).
func run(ctx context.Context, args []string, cfg *rest.Config) error {
	fs := flag.NewFlagSet("nebula-operator", flag.ContinueOnError)
	var (
		metricsAddr, probeAddr  string
		leaderElect             bool
		leaderElectionNamespace string
		brImage, agentImage     string
		kubeconfig              string
		restoreTimeout          time.Duration
	)
	fs.DurationVar(&restoreTimeout, "restore-timeout", time.Hour, "how long a NebulaRestore may take unless its spec.timeout says otherwise")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, or $KUBECONFIG, or ~/.kube/config)")
	fs.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 disables it)")
	fs.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	fs.BoolVar(&leaderElect, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	fs.StringVar(&leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's namespace)")
	fs.StringVar(&brImage, "br-image", nebulabackup.DefaultBRImage, "br image of backup Jobs whose NebulaBackup names none")
	fs.StringVar(&agentImage, "agent-image", nebulacluster.DefaultAgentImage, "ng-agent (br-agent) image of clusters whose spec.agent names none")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))

	if cfg == nil {
		var err error
		if kubeconfig != "" {
			cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		} else {
			cfg, err = ctrl.GetConfig()
		}
		if err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Controller:              controllerOptions,
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: leaderElectionNamespace,
		// The process exits right after the manager stops: hand the
		// Lease over at once.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
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
	log.Info("starting manager", "metrics", metricsAddr, "probes", probeAddr, "leaderElect", leaderElect)
	return mgr.Start(ctx)
}
