package chartkit

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ServiceMonitor is the part of the Prometheus Operator's monitoring.coreos.com/v1
// ServiceMonitor that the chart uses, with the CRD's field names. Decoding is
// strict, so a field the chart renders but this type (and so, presumably, the
// CRD) does not know fails the tests; extend it from the CRD when the chart
// starts using more.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

// ServiceMonitorSpec is monitoring.coreos.com/v1 ServiceMonitorSpec (subset).
type ServiceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector struct {
		Any        bool     `json:"any,omitempty"`
		MatchNames []string `json:"matchNames,omitempty"`
	} `json:"namespaceSelector"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is monitoring.coreos.com/v1 Endpoint (subset).
type Endpoint struct {
	Port          string `json:"port,omitempty"`
	Path          string `json:"path,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
}

// PrometheusRule is monitoring.coreos.com/v1 PrometheusRule, with the CRD's field
// names (strictly decoded, like ServiceMonitor).
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              RuleFile `json:"spec"`
}

// RuleFile is a Prometheus rule file: the PrometheusRule's spec has the same shape.
type RuleFile struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is one group of rules.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is an alerting or recording rule.
type Rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}
