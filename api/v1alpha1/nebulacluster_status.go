package v1alpha1

import (
	"fmt"
	"sort"
	"strings"

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
	// ClusterReasonSuspended: spec.suspend is set (readiness False).
	ClusterReasonSuspended = "Suspended"
	// ClusterReasonFieldsNotActedOn and ClusterReasonAllFieldsActedOn are
	// the reasons of ClusterFeaturesNotActedOn True and False; the Warning
	// event of the first has the same reason.
	ClusterReasonFieldsNotActedOn = "FieldsNotActedOn"
	ClusterReasonAllFieldsActedOn = "AllFieldsActedOn"
)

// Component is the status of a component (ComponentMetad,
// ComponentStoraged or ComponentGraphd); nil for another role.
func (s *NebulaClusterStatus) Component(role string) *ComponentStatus {
	switch role {
	case ComponentMetad:
		return &s.Metad
	case ComponentStoraged:
		return &s.Storaged.ComponentStatus
	case ComponentGraphd:
		return &s.Graphd
	}
	return nil
}

// Condition returns the condition of type typ, or nil.
func (s *NebulaClusterStatus) Condition(typ string) *Condition {
	return FindCondition(s.Conditions, typ)
}

// IsConditionTrue says whether the condition of type typ is True.
func (s *NebulaClusterStatus) IsConditionTrue(typ string) bool {
	return IsConditionTrue(s.Conditions, typ)
}

// SetCondition adds or updates a condition at time now (see SetCondition);
// it reports whether the condition changed.
func (s *NebulaClusterStatus) SetCondition(c Condition, now metav1.Time) bool {
	return SetCondition(&s.Conditions, c, now)
}

// RemoveCondition drops the condition of type typ.
func (s *NebulaClusterStatus) RemoveCondition(typ string) { RemoveCondition(&s.Conditions, typ) }

func (s *NebulaClusterStatus) set(typ string, status metav1.ConditionStatus, reason, msg string, generation int64) {
	s.SetCondition(NebulaClusterCondition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: generation}, metav1.Now())
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
	s.set(ComponentReadyCondition(role), status, reason, msg, generation)
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
		s.set(ClusterReady, metav1.ConditionTrue, ClusterReasonAllReady, "metad, storaged and graphd are ready", generation)
		return
	}
	s.Phase = ClusterCreating
	s.set(ClusterReady, metav1.ConditionFalse, ClusterReasonComponentsNotReady, "not every component is ready", generation)
}

// SetComponentSuspended records that spec.suspend holds a component
// stopped: phase Suspend, no workload, readiness False (Suspended).
func (s *NebulaClusterStatus) SetComponentSuspended(role string, gone bool, generation int64) {
	msg := fmt.Sprintf("%s is suspended (spec.suspend)", role)
	if !gone {
		msg = fmt.Sprintf("%s is being suspended (spec.suspend): its StatefulSet is deleted", role)
	}
	s.setComponent(role, ClusterSuspend, metav1.ConditionFalse, ClusterReasonSuspended, msg, generation)
	if cs := s.Component(role); cs != nil && gone {
		cs.Workload = nil
	}
}

// SetSuspended records that the whole cluster is suspended: phase Suspend,
// ClusterReady False (Suspended).
func (s *NebulaClusterStatus) SetSuspended(generation int64) {
	s.Phase = ClusterSuspend
	s.set(ClusterReady, metav1.ConditionFalse, ClusterReasonSuspended, "the cluster is suspended (spec.suspend)", generation)
}

// SetFieldsNotActedOn records the spec fields that are set but not acted
// on by this operator (paths such as spec.exporter): ClusterFeaturesNotActedOn
// True naming them, or False when there are none. It reports whether the
// condition changed.
func (s *NebulaClusterStatus) SetFieldsNotActedOn(fields []string, generation int64) bool {
	c := NebulaClusterCondition{Type: ClusterFeaturesNotActedOn, ObservedGeneration: generation}
	if len(fields) == 0 {
		if s.Condition(ClusterFeaturesNotActedOn) == nil {
			return false // nothing to say, and nothing said before
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ClusterReasonAllFieldsActedOn, "every field set is acted on"
	} else {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ClusterReasonFieldsNotActedOn, FieldsNotActedOnMessage(fields)
	}
	// The generation alone does not make it a new condition.
	if cur := s.Condition(ClusterFeaturesNotActedOn); cur != nil && cur.Status == c.Status && cur.Message == c.Message {
		c.ObservedGeneration = cur.ObservedGeneration
	}
	return s.SetCondition(c, metav1.Now())
}

// FieldsNotActedOnMessage is the message of ClusterFeaturesNotActedOn (and
// of its Warning event) for fields.
func FieldsNotActedOnMessage(fields []string) string {
	f := append([]string(nil), fields...)
	sort.Strings(f)
	return "set but not acted on by this operator (kept in the object): " + strings.Join(f, ", ")
}
