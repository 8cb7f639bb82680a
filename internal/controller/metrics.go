package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Prometheus metrics of the controllers, served on the manager's metrics
// endpoint (controller-runtime's registry).
var (
	// BackupsTotal counts finished backups by result: complete, failed or
	// invalid.
	BackupsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nebula_backups_total",
		Help: "NebulaBackups that finished, by result (complete, failed, invalid).",
	}, []string{"result"})

	// BackupDuration observes how long backup Jobs took, by result.
	BackupDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nebula_backup_duration_seconds",
		Help:    "Time from the backup Job's creation to its end, by result.",
		Buckets: prometheus.ExponentialBuckets(5, 2, 12), // 5s .. ~2.8h
	}, []string{"result"})

	// LastSuccessfulBackup is the Unix time of each cluster's last complete
	// backup.
	LastSuccessfulBackup = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nebula_backup_last_success_timestamp_seconds",
		Help: "Unix time at which the cluster's last successful backup completed.",
	}, []string{"namespace", "cluster"})

	// RestoresTotal counts finished restores by result.
	RestoresTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nebula_restores_total",
		Help: "NebulaRestores that finished, by result (complete, failed, invalid).",
	}, []string{"result"})

	// RestoreDuration observes how long restores took, by result.
	RestoreDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nebula_restore_duration_seconds",
		Help:    "Time from a restore's start to its end, by result.",
		Buckets: prometheus.ExponentialBuckets(5, 2, 12),
	}, []string{"result"})

	// RestoredBytes counts the bytes restores downloaded into clusters.
	RestoredBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nebula_restore_downloaded_bytes_total",
		Help: "Bytes downloaded from storage into restored clusters.",
	})
)

func init() {
	metrics.Registry.MustRegister(BackupsTotal, BackupDuration, LastSuccessfulBackup, RestoresTotal, RestoreDuration, RestoredBytes)
}

// RecordRestore records a finished restore (started may be zero).
func RecordRestore(result string, started, finished time.Time) {
	RestoresTotal.WithLabelValues(result).Inc()
	if !started.IsZero() {
		RestoreDuration.WithLabelValues(result).Observe(finished.Sub(started).Seconds())
	}
}

// Backup results (the result label).
const (
	ResultComplete = "complete"
	ResultFailed   = "failed"
	ResultInvalid  = "invalid"
)

// RecordBackup records a finished backup. started may be zero (an invalid
// backup never started).
func RecordBackup(result, namespace, cluster string, started, finished time.Time) {
	BackupsTotal.WithLabelValues(result).Inc()
	if !started.IsZero() {
		BackupDuration.WithLabelValues(result).Observe(finished.Sub(started).Seconds())
	}
	if result == ResultComplete {
		LastSuccessfulBackup.WithLabelValues(namespace, cluster).Set(float64(finished.Unix()))
	}
}
