package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Components of a NebulaCluster: the values of LabelComponent on its
// objects, and the roles NebulaClusterStatus reports on.
const (
	ComponentMetad    = "metad"
	ComponentStoraged = "storaged"
	ComponentGraphd   = "graphd"
)

// Condition reasons of a NebulaCluster: of a component's readiness
// condition (ClusterMetadReady, ClusterStoragedReady, ClusterGraphdReady)
// and of ClusterReady.
const (
	ClusterReasonWaitingForPrevious = "WaitingForPrevious"
	ClusterReasonRestoreInProgress  = "RestoreInProgress"
	ClusterReasonReady              = "Ready"
	ClusterReasonNotReady           = "NotReady"
	ClusterReasonAllReady           = "AllReady"
	ClusterReasonComponentsNotReady = "ComponentsNotReady"
)

// Component is the status of a component (ComponentMetad,
// ComponentStoraged or ComponentGraphd); nil for another role.
func (s *NebulaClusterStatus) Component(role string) *ComponentStatus {
	switch role {
	case ComponentMetad:
		return &s.Metad
	case ComponentStoraged:
		return &s.Storaged
	case ComponentGraphd:
		return &s.Graphd
	}
	return nil
}

// ComponentReadyCondition is the readiness condition type of a component
// ("" for another role).
func ComponentReadyCondition(role string) string {
	switch role {
	case ComponentMetad:
		return ClusterMetadReady
	case ComponentStoraged:
		return ClusterStoragedReady
	case ComponentGraphd:
		return ClusterGraphdReady
	}
	return ""
}

// setComponent sets a component's phase and readiness condition; it does
// nothing for an unknown role.
func (s *NebulaClusterStatus) setComponent(role string, phase ClusterPhase, status metav1.ConditionStatus, reason, msg string, generation int64) {
	cs := s.Component(role)
	if cs == nil {
		return
	}
	cs.Phase = phase
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: ComponentReadyCondition(role), Status: status,
		Reason: reason, Message: msg, ObservedGeneration: generation})
}

// SetComponentWaiting records that a component waits for the previous one
// to be ready: phase Pending, readiness False (WaitingForPrevious).
func (s *NebulaClusterStatus) SetComponentWaiting(role string, generation int64) {
	s.setComponent(role, ClusterPending, metav1.ConditionFalse, ClusterReasonWaitingForPrevious,
		fmt.Sprintf("%s waits for the previous component to be ready", role), generation)
}

// SetComponentHeld records that a restore holds a component back at
// restore stage stage (the value of AnnotationRestoreStage): phase
// Pending, readiness False (RestoreInProgress).
func (s *NebulaClusterStatus) SetComponentHeld(role, stage string, generation int64) {
	s.setComponent(role, ClusterPending, metav1.ConditionFalse, ClusterReasonRestoreInProgress,
		fmt.Sprintf("%s waits for the restore (%s=%s)", role, AnnotationRestoreStage, stage), generation)
}

// SetComponentReady records that every pod of a component runs its current
// spec and is ready: phase Running, readiness True (Ready).
func (s *NebulaClusterStatus) SetComponentReady(role string, ready, replicas int32, generation int64) {
	s.setComponent(role, ClusterRunning, metav1.ConditionTrue, ClusterReasonReady,
		fmt.Sprintf("%d/%d %s pods ready", ready, replicas, role), generation)
}

// SetComponentNotReady records that a component's workload exists but not
// all its pods are ready and current: phase Creating, readiness False
// (NotReady).
func (s *NebulaClusterStatus) SetComponentNotReady(role string, ready, replicas int32, generation int64) {
	s.setComponent(role, ClusterCreating, metav1.ConditionFalse, ClusterReasonNotReady,
		fmt.Sprintf("%d/%d %s pods ready", ready, replicas, role), generation)
}

// SetReady records the cluster's readiness: phase Running and ClusterReady
// True (AllReady) when every component is ready, else phase Creating and
// ClusterReady False (ComponentsNotReady).
func (s *NebulaClusterStatus) SetReady(allReady bool, generation int64) {
	if allReady {
		s.Phase = ClusterRunning
		meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: ClusterReady, Status: metav1.ConditionTrue, Reason: ClusterReasonAllReady,
			Message: "metad, storaged and graphd are ready", ObservedGeneration: generation})
		return
	}
	s.Phase = ClusterCreating
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: ClusterReady, Status: metav1.ConditionFalse, Reason: ClusterReasonComponentsNotReady,
		Message: "not every component is ready", ObservedGeneration: generation})
}
