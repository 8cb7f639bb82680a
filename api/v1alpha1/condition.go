package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition is one aspect of a resource's state, as the status of every
// kind here holds them: metav1.Condition's fields and upstream's
// lastUpdateTime.
type Condition struct {
	// Type of the condition, such as Ready or Complete.
	Type string `json:"type"`

	// Status: True, False or Unknown.
	// +kubebuilder:validation:Enum=True;False;Unknown
	Status metav1.ConditionStatus `json:"status"`

	// ObservedGeneration is the spec generation the condition was set for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// LastUpdateTime is when the condition last changed in any way.
	// +optional
	LastUpdateTime metav1.Time `json:"lastUpdateTime,omitempty"`

	// LastTransitionTime is when status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`

	// Reason is a CamelCase word for the condition's cause.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message says it in words.
	// +optional
	Message string `json:"message,omitempty"`
}

// NebulaClusterCondition is a NebulaCluster's condition.
type NebulaClusterCondition = Condition

// FindCondition returns the condition of type typ in conds, or nil.
func FindCondition(conds []Condition, typ string) *Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// IsConditionTrue says whether the condition of type typ is True.
func IsConditionTrue(conds []Condition, typ string) bool {
	c := FindCondition(conds, typ)
	return c != nil && c.Status == metav1.ConditionTrue
}

// SetCondition adds or updates the condition of c.Type at time now.
// lastTransitionTime moves only when the status changes, lastUpdateTime
// whenever anything in it changes; an unchanged condition is left as it
// is (so that an unchanged status writes nothing). It reports whether the
// condition changed.
func SetCondition(conds *[]Condition, c Condition, now metav1.Time) bool {
	cur := FindCondition(*conds, c.Type)
	if cur == nil {
		c.LastTransitionTime, c.LastUpdateTime = now, now
		*conds = append(*conds, c)
		return true
	}
	if cur.Status == c.Status && cur.Reason == c.Reason && cur.Message == c.Message && cur.ObservedGeneration == c.ObservedGeneration {
		return false
	}
	c.LastTransitionTime = cur.LastTransitionTime
	if cur.Status != c.Status || c.LastTransitionTime.IsZero() {
		c.LastTransitionTime = now
	}
	c.LastUpdateTime = now
	*cur = c
	return true
}

// RemoveCondition drops the condition of type typ from conds.
func RemoveCondition(conds *[]Condition, typ string) {
	out := (*conds)[:0]
	for _, c := range *conds {
		if c.Type != typ {
			out = append(out, c)
		}
	}
	*conds = out
}
