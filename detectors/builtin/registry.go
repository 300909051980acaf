package builtin

import "github.com/iamsentry/iamsentry/detectors"

// Specs returns the detectors iamsentry ships, in the order they are
// listed. A new built-in detector is one file, its test file and one line
// here.
func Specs() []detectors.Spec {
	return []detectors.Spec{
		{ID: AdminPolicyAttachedID, New: NewAdminPolicyAttached},
		{ID: AccessKeyPersistenceID, New: NewAccessKeyPersistence, Defaults: defaults(DefaultAccessKeyPersistenceOptions)},
		{ID: AssumeRoleUnexpectedSourceID, New: NewAssumeRoleUnexpectedSource, Defaults: defaults(DefaultAssumeRoleUnexpectedSourceOptions)},
		{ID: UnusualSessionNameID, New: NewUnusualSessionName, Defaults: defaults(DefaultUnusualSessionNameOptions)},
		{ID: AccessKeyNewLocationID, New: NewAccessKeyNewLocation, Defaults: defaults(DefaultAccessKeyNewLocationOptions)},
		{ID: PrivilegedRoleAssumptionSpikeID, New: NewPrivilegedRoleAssumptionSpike, Defaults: defaults(DefaultPrivilegedRoleAssumptionSpikeOptions)},
		{ID: AccessKeyEnumerationID, New: NewAccessKeyEnumeration, Defaults: defaults(DefaultAccessKeyEnumerationOptions)},
		{ID: CallerIdentityReconID, New: NewCallerIdentityRecon, Defaults: defaults(DefaultCallerIdentityReconOptions)},
		{ID: PolicyWeakenedID, New: NewPolicyWeakened, Defaults: defaults(DefaultPolicyWeakenedOptions)},
		{ID: WorkloadCredentialsID, New: NewWorkloadCredentials, Defaults: defaults(DefaultWorkloadCredentialsOptions)},
		{ID: CredentialPersistenceID, New: NewCredentialPersistence, Defaults: defaults(DefaultCredentialPersistenceOptions)},
		{ID: RootAccountUseID, New: NewRootAccountUse, Defaults: defaults(DefaultRootAccountUseOptions)},
		{ID: ConsoleLoginWithoutMFAID, New: NewConsoleLoginWithoutMFA},
		{ID: MFADeviceRemovedID, New: NewMFADeviceRemoved},
		{ID: PasswordPolicyWeakenedID, New: NewPasswordPolicyWeakened},
		{ID: LoggingTamperingID, New: NewLoggingTampering, Defaults: defaults(DefaultLoggingTamperingOptions)},
		{ID: OffensiveToolingID, New: NewOffensiveTooling, Defaults: defaults(DefaultOffensiveToolingOptions)},
		{ID: AccessDeniedBurstID, New: NewAccessDeniedBurst, Defaults: defaults(DefaultAccessDeniedBurstOptions)},
	}
}

// All returns the built-in detectors with their default settings.
func All() []detectors.Detector { return detectors.BuildAll(Specs()) }

// defaults adapts a detector's typed defaults function to Spec.Defaults.
func defaults[O any](f func() O) func() any { return func() any { return f() } }
