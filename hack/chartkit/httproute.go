package chartkit

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// HTTPRouteAPI is the Gateway API kind the chart renders with httpRoute.enabled.
const HTTPRouteAPI = "gateway.networking.k8s.io/v1/HTTPRoute"

// HTTPRoute is the part of gateway.networking.k8s.io/v1 HTTPRoute the chart uses,
// with the CRD's field names, strictly decoded like ServiceMonitor.
type HTTPRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ParentRefs []struct {
			Group       string `json:"group,omitempty"`
			Kind        string `json:"kind,omitempty"`
			Namespace   string `json:"namespace,omitempty"`
			Name        string `json:"name"`
			SectionName string `json:"sectionName,omitempty"`
			Port        int32  `json:"port,omitempty"`
		} `json:"parentRefs"`
		Hostnames []string `json:"hostnames"`
		Rules     []struct {
			Matches []struct {
				Path struct {
					Type  string `json:"type"`
					Value string `json:"value"`
				} `json:"path"`
			} `json:"matches"`
			BackendRefs []struct {
				Name string `json:"name"`
				Port int32  `json:"port"`
			} `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
}
