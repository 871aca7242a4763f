package inputs

import rbacv1 "k8s.io/api/rbac/v1"

// RBACRules are exactly the API permissions the agent's inputs use: the
// ClusterRole of the calico-vpp-node ServiceAccount is generated from (and
// tested against) this list. The BGP syncer reads Calico's resources
// through the crd.projectcalico.org API group of the Kubernetes datastore.
func RBACRules() []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes", "services"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		{APIGroups: []string{"crd.projectcalico.org"}, Resources: []string{
			"ippools", "bgpconfigurations", "bgppeers", "bgpfilters", "blockaffinities", "clusterinformations",
		}, Verbs: read},
	}
}

// NamespaceRBACRules are the permissions the agent needs in its own
// namespace (a Role there): BGP passwords from Secrets, which BGPPeers and
// BGPConfiguration's nodeMeshPassword name.
func NamespaceRBACRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
	}
}
