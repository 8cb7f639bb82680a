package controller

import (
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
)

// RetryLostRaces turns a write that lost a race with another writer (a
// stale cached object, or an object created meanwhile) into a short
// requeue rather than an error: the next pass sees the current state.
func RetryLostRaces(res ctrl.Result, err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	return res, err
}
