package detectors

// IAMEntity is the state identity of an IAM user, role or group (kind
// "user", "role" or "group") of account: the identity under which detectors
// keep what they learn about the entity itself (when it was created, its
// inline and trust policies), so that what one detector records another can
// find.
func IAMEntity(account, kind, name string) string {
	return "iam:" + account + ":" + kind + "/" + name
}
