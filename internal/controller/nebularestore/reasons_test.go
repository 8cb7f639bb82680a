package nebularestore

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/br"
)

// Each kind of br failure maps to one reason, wherever it is met, and
// transient ones are waited out instead of ending the restore.
func TestReasonForEachKind(t *testing.T) {
	for _, tc := range []struct {
		err       error
		reason    string
		transient bool
	}{
		{fmt.Errorf("plan: %w", br.ErrBackupNotFound), v1alpha1.RestoreReasonBackupNotFound, false},
		{fmt.Errorf("download: %w", br.ErrBackupDamaged), v1alpha1.RestoreReasonBackupDamaged, false},
		{fmt.Errorf("list: %w", br.ErrStorageUnavailable), v1alpha1.RestoreReasonStorageUnavailable, true},
		{fmt.Errorf("open: %w", br.ErrStorageRefused), v1alpha1.RestoreReasonStorageRefused, false},
		{fmt.Errorf("fence: %w", br.ErrTargetBusy), v1alpha1.RestoreReasonTargetBusy, true},
		{fmt.Errorf("dial: %w", br.ErrAgentUnavailable), v1alpha1.RestoreReasonWaitingForAgent, true},
		{fmt.Errorf("job: %w", br.ErrPlaybackFailed), v1alpha1.RestoreReasonPlaybackFailed, false},
		{fmt.Errorf("pair: %w", br.ErrTopology), v1alpha1.RestoreReasonTopology, false},
		{fmt.Errorf("restoreMeta: %w", br.ErrTargetFailed), v1alpha1.RestoreReasonTargetFailed, false},
		// Unmarked errors are classified by their cause.
		{fmt.Errorf("call: %w", status.Error(codes.Unavailable, "connection refused")), v1alpha1.RestoreReasonWaitingForAgent, true},
		{fmt.Errorf("call: %w", status.Error(codes.DataLoss, "checksum mismatch")), v1alpha1.RestoreReasonBackupDamaged, false},
		{errors.New("something else"), v1alpha1.RestoreReasonTargetFailed, false},
	} {
		reason, transient := reasonFor(tc.err)
		if reason != tc.reason || transient != tc.transient {
			t.Errorf("%v: reason %s (transient %v), want %s (%v)", tc.err, reason, transient, tc.reason, tc.transient)
		}
	}
	seen := map[string]error{}
	for _, k := range reasons {
		if other, dup := seen[k.reason]; dup {
			t.Errorf("reason %s given to both %v and %v", k.reason, other, k.kind)
		}
		seen[k.reason] = k.kind
	}
}
