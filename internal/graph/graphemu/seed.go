package graphemu

import (
	"fmt"
	"strings"
	"time"
)

// Notable users and groups of the demo tenant, for tests and the demo's
// documentation. Every id is fixed; times are relative to the moment the
// tenant is seeded.
const (
	// GlobalAdminUserID holds Global Administrator directly.
	GlobalAdminUserID = "a1000000-0000-4000-8000-000000000005"
	// GroupRoleAdminUserID holds Helpdesk Administrator only through the
	// role-assignable group TierTwoAdminsGroupID.
	GroupRoleAdminUserID = "a1000000-0000-4000-8000-000000000008"
	// BreakGlassUserID is an emergency access account: Global
	// Administrator, member of BreakGlassGroupID, which the policy
	// excludes.
	BreakGlassUserID = "a1000000-0000-4000-8000-000000000011"
	// ExecutiveUserID is a direct member of ExecutiveGroupID.
	ExecutiveUserID = "a1000000-0000-4000-8000-000000000013"
	// NestedExecutiveUserID belongs to ExecutiveGroupID only through the
	// nested group ExecutiveOfficeGroupID.
	NestedExecutiveUserID = "a1000000-0000-4000-8000-000000000016"
	// Users holding a pass in each state when the tenant is seeded.
	TAPUsableUserID      = "a1000000-0000-4000-8000-000000000017"
	TAPNotYetValidUserID = "a1000000-0000-4000-8000-000000000018"
	TAPExpiredUserID     = "a1000000-0000-4000-8000-000000000019"
	TAPUsedUserID        = "a1000000-0000-4000-8000-000000000020"
	// DisabledUserID is a disabled cloud-only member.
	DisabledUserID = "a1000000-0000-4000-8000-000000000021"
	// SyncedUserID is an enabled member synchronised from on-premises.
	SyncedUserID = "a1000000-0000-4000-8000-000000000029"
	// GuestUserID is an external guest; its UPN holds "#EXT#".
	GuestUserID  = "a1000000-0000-4000-8000-000000000023"
	GuestUserUPN = "jane.doe_fabrikam.example#EXT#@" + DemoDomain
	// MarkupUserID has HTML and script markup in every free-text field.
	MarkupUserID = "a1000000-0000-4000-8000-000000000026"

	// Privilege the way most real tenants grant it, one user of each kind.
	// PIMGlobalAdminUserID is eligible for Global Administrator through
	// PIM and holds no active role.
	PIMGlobalAdminUserID = "a1000000-0000-4000-8000-000000000051"
	// EligibleViaGroupUserID is a member of IdentityAdminsGroupID, which is
	// eligible for Privileged Role Administrator.
	EligibleViaGroupUserID = "a1000000-0000-4000-8000-000000000052"
	// PIMGroupMemberUserID may activate membership of Tier0AdminsGroupID
	// (which holds Global Administrator) through PIM for Groups.
	PIMGroupMemberUserID = "a1000000-0000-4000-8000-000000000053"
	// PIMGroupOwnerUserID may activate ownership of Tier0AdminsGroupID.
	PIMGroupOwnerUserID = "a1000000-0000-4000-8000-000000000054"
	// ScopedHelpdeskUserID is Helpdesk Administrator in the administrative
	// unit ParisUnitID only.
	ScopedHelpdeskUserID = "a1000000-0000-4000-8000-000000000055"
	// CustomRoleUserID holds the custom role PasswordResetRoleID.
	CustomRoleUserID = "a1000000-0000-4000-8000-000000000056"
	// StaffGroupUserID holds the portal's supervisor role through
	// PortalSupervisorsGroupID.
	StaffGroupUserID = "a1000000-0000-4000-8000-000000000057"
	// LapsedEligibilityUserID was eligible for Global Administrator until
	// a week ago: no longer privileged.
	LapsedEligibilityUserID = "a1000000-0000-4000-8000-000000000058"
	// StillUsableUserID holds a reusable pass made in the admin center,
	// still usable after she registered Microsoft Authenticator with it.
	StillUsableUserID = "a1000000-0000-4000-8000-000000000042"
	// EndingUnusedUserID holds a one-time pass made in the admin center
	// that ends, unused, two minutes after the tenant is seeded.
	EndingUnusedUserID = "a1000000-0000-4000-8000-000000000044"

	// Two users on whom the demo's Graph misbehaves as a real one can,
	// so that `portal dev` shows what the portal does about it:
	// ActsThenFailsUserID's creates succeed and then answer 503 (the pass
	// exists, its passcode is lost); FailsUnsureUserID's creates answer
	// 503 without acting (the outcome is unknown until settled).
	ActsThenFailsUserID = "a1000000-0000-4000-8000-000000000059"
	FailsUnsureUserID   = "a1000000-0000-4000-8000-000000000060"
	// SpoofedNameUserID's display name holds a right-to-left override:
	// "Eve \u202Enimda\u202C Spoof" renders as "Eve admin Spoof" unless
	// the page isolates it and shows the override.
	SpoofedNameUserID = "a1000000-0000-4000-8000-000000000061"
	// AuditGapUserID's pass changes never reach the directory audit log,
	// so the portal flags the passes it issues her as missing from it.
	AuditGapUserID = "a1000000-0000-4000-8000-000000000062"

	// Reporting lines and mailboxes. Most members report to someone in
	// their department and have a mailbox; these are the cases a mail to
	// a manager must handle. NoManagerUserID is a new starter whose
	// manager HR has not set yet.
	NoManagerUserID = "a1000000-0000-4000-8000-000000000018"
	// ManagerLeftUserID still reports to DisabledUserID, who left the
	// company: his account is disabled, his licence and mailbox are gone,
	// and his mail address stays on his account.
	ManagerLeftUserID = "a1000000-0000-4000-8000-000000000046"
	// UnlicensedManagerUserID is a shift lead without a Microsoft 365
	// licence: no mailbox and no mail address. ReportsToUnlicensedUserID
	// is one of his team.
	UnlicensedManagerUserID   = "a1000000-0000-4000-8000-000000000064"
	ReportsToUnlicensedUserID = "a1000000-0000-4000-8000-000000000045"
	// PortalMailboxUserID is the shared mailbox the portal sends its mail
	// from, PortalMailboxAddress. Like every shared mailbox it is a user
	// object with a mailbox whose account is disabled: nobody signs in
	// to it.
	PortalMailboxUserID  = "a1000000-0000-4000-8000-000000000063"
	PortalMailboxAddress = "tap-portal@" + DemoDomain

	// ExecutiveGroupID is "Executive Leadership", the group to protect.
	ExecutiveGroupID = "c3000000-0000-4000-8000-000000000001"
	// ExecutiveOfficeGroupID is nested in ExecutiveGroupID.
	ExecutiveOfficeGroupID = "c3000000-0000-4000-8000-000000000002"
	// BreakGlassGroupID is excluded by the pass policy.
	BreakGlassGroupID = "c3000000-0000-4000-8000-000000000003"
	// EligibleGroupID is "Eligible for TAP"; it nests NewStartersGroupID.
	EligibleGroupID    = "c3000000-0000-4000-8000-000000000004"
	NewStartersGroupID = "c3000000-0000-4000-8000-000000000005"
	// TierTwoAdminsGroupID is role-assignable and holds Helpdesk
	// Administrator.
	TierTwoAdminsGroupID = "c3000000-0000-4000-8000-000000000006"
	ServiceDeskGroupID   = "c3000000-0000-4000-8000-000000000007"
	FinanceGroupID       = "c3000000-0000-4000-8000-000000000008"
	// Tier0AdminsGroupID is role-assignable and holds Global
	// Administrator; nobody is an active member, two may activate.
	Tier0AdminsGroupID = "c3000000-0000-4000-8000-000000000009"
	// IdentityAdminsGroupID is role-assignable and eligible for
	// Privileged Role Administrator.
	IdentityAdminsGroupID = "c3000000-0000-4000-8000-000000000010"
	// PortalSupervisorsGroupID holds the portal's supervisor app role.
	PortalSupervisorsGroupID = "c3000000-0000-4000-8000-000000000011"
	// SecurityTeamGroupID is the security team's mail-enabled group,
	// SecurityTeamAddress, where the demo sends its security notices.
	SecurityTeamGroupID = "c3000000-0000-4000-8000-000000000012"
	SecurityTeamAddress = "security@" + DemoDomain

	// AgencyContactID is an organisational contact at the staffing
	// agency that employs the contractor SpoofedNameUserID, and her
	// manager in the directory: a manager who is not a user.
	AgencyContactID = "c4000000-0000-4000-8000-000000000001"

	// ParisUnitID is the administrative unit "Paris office".
	ParisUnitID = "f6000000-0000-4000-8000-000000000001"
	// PasswordResetRoleID is the custom role "Northwind Password Reset
	// Operator".
	PasswordResetRoleID = "e5000000-0000-4000-8000-000000000001"

	// DemoSignInAppID is the app id of the portal's sign-in app in the
	// demo tenant; its service principal holds the portal's app roles.
	DemoSignInAppID = "9c4f2a71-3e58-4b6d-a0c2-5d8e1f3b7a94"
	// The sign-in app's roles.
	AppRoleOperatorID   = "b9000000-0000-4000-8000-000000000001"
	AppRoleSupervisorID = "b9000000-0000-4000-8000-000000000002"
	// AppRoleOtherNameID is the operator role as another tenant names it.
	AppRoleOtherNameID = "b9000000-0000-4000-8000-000000000003"
)

// scriptsAppID is an automation app that issued some of the demo's
// earlier passes, the way helpdesks script it before a portal.
const (
	scriptsAppID   = "7c1e4d2a-3b5f-4e6a-9d8c-1f2e3a4b5c6d"
	scriptsAppName = "Northwind Helpdesk Scripts"
)

// Phone and email methods have fixed ids in Graph, one per kind.
const (
	phoneMobileID    = "3179e48a-750b-4051-897c-87b9720928f7"
	phoneAltMobileID = "b6332ec1-7057-4abe-9331-3d72feddfe41"
	phoneOfficeID    = "e37fc753-ff3b-4958-9484-eaa9425c82bc"
	emailMethodID    = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"
)

// FIDO2 authenticator models (AAGUIDs from the FIDO metadata service).
const (
	aaguidYubiKey5NFC = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
	aaguidYubiKey5Ci  = "c5ef55ff-ad9a-4b9f-b580-adebafe026d0"
)

func userID(n int) string { return fmt.Sprintf("a1000000-0000-4000-8000-%012d", n) }

func roleID(n int) string { return fmt.Sprintf("d4000000-0000-4000-8000-%012d", n) }

// defaultPolicy is the policy of a tenant that turned passes on without
// changing anything: Graph's defaults, for all users.
func defaultPolicy() Policy {
	return Policy{
		State:                    "enabled",
		DefaultLifetimeInMinutes: 60,
		MinimumLifetimeInMinutes: 60,
		MaximumLifetimeInMinutes: 480,
		DefaultLength:            8,
		IncludeTargets:           []PolicyTarget{{TargetType: "group", ID: "all_users"}},
	}
}

func emptyTenant(tenantID string) *Tenant {
	return &Tenant{ID: tenantID, Domain: DemoDomain, Policy: defaultPolicy(), RoleDefinitions: builtInRoles()}
}

// builtInRoles are the built-in role definitions the tenant knows: those
// the seed assigns and a few more. A built-in definition's id is its
// template id; each has an activated directoryRole object.
func builtInRoles() []*RoleDefinition {
	defs := []struct{ id, name, desc string }{
		{RoleGlobalAdministrator, "Global Administrator", "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities."},
		{RolePrivilegedAuthAdministrator, "Privileged Authentication Administrator", "Can access to view, set and reset authentication method information for any user (admin or non-admin)."},
		{RolePrivilegedRoleAdministrator, "Privileged Role Administrator", "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management."},
		{RoleAuthenticationAdministrator, "Authentication Administrator", "Can access to view, set and reset authentication method information for any non-admin user."},
		{RoleHelpdeskAdministrator, "Helpdesk Administrator", "Can reset passwords for non-administrators and Helpdesk Administrators."},
		{RoleUserAdministrator, "User Administrator", "Can manage all aspects of users and groups, including resetting passwords for limited admins."},
		{RoleGlobalReader, "Global Reader", "Can read everything that a Global Administrator can, but not update anything."},
		{RoleSecurityAdministrator, "Security Administrator", "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365."},
		{RoleExchangeAdministrator, "Exchange Administrator", "Can manage all aspects of the Exchange product."},
		{RoleConditionalAccessAdministator, "Conditional Access Administrator", "Can manage Conditional Access capabilities."},
	}
	out := make([]*RoleDefinition, len(defs))
	for i, d := range defs {
		out[i] = &RoleDefinition{ID: d.id, DisplayName: d.name, Description: d.desc, BuiltIn: true, DirectoryRoleID: roleID(i + 1)}
	}
	return out
}

// seeder builds the demo tenant.
type seeder struct {
	t         *Tenant
	now       time.Time
	methodSeq int
}

func (b *seeder) daysAgo(d int) time.Time { return b.now.Add(-time.Duration(d) * 24 * time.Hour) }

// member adds an enabled cloud-only member of the tenant.
func (b *seeder) member(n int, given, surname, upnLocal, job, dept, office string, methods ...*Method) *User {
	display := given + " " + surname
	upn := upnLocal + "@" + b.t.Domain
	u := &User{
		ID:                userID(n),
		DisplayName:       display,
		GivenName:         given,
		Surname:           surname,
		UserPrincipalName: upn,
		Mail:              upn,
		JobTitle:          job,
		Department:        dept,
		OfficeLocation:    office,
		BusinessPhones:    []string{fmt.Sprintf("+1 206 555 %04d", 100+n)},
		EmployeeID:        fmt.Sprintf("NW%05d", 10000+n*37),
		AccountEnabled:    true,
		UserType:          "Member",
		CreatedDateTime:   b.daysAgo(900 - n*13),
		Methods:           methods,
		// Northwind licenses its staff for Exchange Online; the seed
		// takes the mailbox away from those who have none.
		Mailbox: true,
	}
	b.t.Users = append(b.t.Users, u)
	return u
}

// guest adds an invited external user. A guest's mailbox, if any, is in
// their home organisation: in this tenant they have none.
func (b *seeder) guest(n int, given, surname, homeMail string) *User {
	local, domain, _ := strings.Cut(homeMail, "@")
	u := &User{
		ID:                userID(n),
		DisplayName:       given + " " + surname,
		GivenName:         given,
		Surname:           surname,
		UserPrincipalName: local + "_" + domain + "#EXT#@" + b.t.Domain,
		Mail:              homeMail,
		AccountEnabled:    true,
		UserType:          "Guest",
		CreatedDateTime:   b.daysAgo(120 - n),
	}
	b.t.Users = append(b.t.Users, u)
	return u
}

func (b *seeder) method(typ string, props map[string]any, created time.Time) *Method {
	b.methodSeq++
	return &Method{ID: fmt.Sprintf("e5000000-0000-4000-8000-%012d", b.methodSeq), Type: typ, Props: props, Created: created}
}

func (b *seeder) authenticator(device, version string, age int) *Method {
	return b.method(MethodAuthenticator, map[string]any{
		"displayName": device, "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": version,
	}, b.daysAgo(age))
}

func (b *seeder) fido2(name, model, aaguid string, age int) *Method {
	return b.method(MethodFido2, map[string]any{
		"displayName": name, "model": model, "aaGuid": aaguid,
		"attestationCertificates": []string{}, "attestationLevel": "attested",
	}, b.daysAgo(age))
}

func (b *seeder) hello(device string, age int) *Method {
	return b.method(MethodWindowsHello, map[string]any{"displayName": device, "keyStrength": "normal"}, b.daysAgo(age))
}

func (b *seeder) platform(device string, age int) *Method {
	return b.method(MethodPlatform, map[string]any{"displayName": device, "platform": "macOS", "keyStrength": "strong"}, b.daysAgo(age))
}

func (b *seeder) oath() *Method {
	return b.method(MethodSoftwareOath, map[string]any{"secretKey": nil}, time.Time{})
}

// phone adds a phone method; its id is fixed by its kind, as in Graph.
func phone(number, kind, smsSignIn string) *Method {
	id := map[string]string{"mobile": phoneMobileID, "alternateMobile": phoneAltMobileID, "office": phoneOfficeID}[kind]
	return &Method{ID: id, Type: MethodPhone, Props: map[string]any{
		"phoneNumber": number, "phoneType": kind, "smsSignInState": smsSignIn,
	}}
}

func email(address string) *Method {
	return &Method{ID: emailMethodID, Type: MethodEmail, Props: map[string]any{"emailAddress": address}}
}

// Offices and departments of Northwind Traders.
const (
	seattle  = "Seattle HQ"
	portland = "Portland Office"
	tacoma   = "Tacoma Distribution Center"
	austin   = "Austin Office"
	dublin   = "Dublin Office"
	hamburg  = "Hamburg Office"
	stock    = "Stockholm Office"
	montreal = "Montréal Office"
	paris    = "Paris Office"
	krakow   = "Kraków Office"

	deskDept  = "IT Service Desk"
	itDept    = "Information Technology"
	finance   = "Finance"
	sales     = "Sales"
	marketing = "Marketing"
	hr        = "Human Resources"
	logistics = "Logistics"
	eng       = "Engineering"
	legal     = "Legal"
	service   = "Customer Service"
	execOff   = "Executive Office"
	facility  = "Facilities"
)

// seedTenant builds "Northwind Traders", the demo tenant: about fifty
// users covering every case the portal must handle.
func seedTenant(tenantID string, now time.Time) *Tenant {
	now = ticks(now)
	b := &seeder{t: &Tenant{ID: tenantID, Domain: DemoDomain}, now: now}

	// Personas who sign in to the portal. They hold no directory role:
	// operators never need one.
	b.member(1, "Priya", "Natarajan", "priya.natarajan", "Helpdesk Analyst", deskDept, seattle,
		b.authenticator("iPhone 15 Pro", "6.8.14", 210), phone("+1 2065550101", "mobile", "notSupported"))
	b.member(2, "Marcus", "Oyelaran", "marcus.oyelaran", "Service Desk Lead", deskDept, seattle,
		b.fido2("YubiKey (desk)", "YubiKey 5 NFC", aaguidYubiKey5NFC, 400), b.authenticator("Pixel 8", "6.2405.3421", 380))
	b.member(3, "Dana", "Whitfield", "dana.whitfield", "Sales Coordinator", sales, seattle,
		phone("+1 2065550103", "mobile", "notSupported"))
	b.member(4, "Tomás", "Ferreira", "tomas.ferreira", "Helpdesk Analyst", deskDept, portland,
		b.authenticator("iPhone 13", "6.8.12", 150), phone("+1 5035550104", "mobile", "notSupported"))

	// Administrators.
	b.member(5, "Oliver", "Grant", "oliver.grant", "IT Infrastructure Manager", itDept, seattle,
		b.fido2("YubiKey 5Ci", "YubiKey 5Ci", aaguidYubiKey5Ci, 500), b.authenticator("iPhone 15", "6.8.14", 480), b.hello("NW-LT-0142", 300))
	b.member(6, "Ngozi", "Adeyemi", "ngozi.adeyemi", "Identity Engineer", itDept, seattle,
		b.fido2("Primary key", "YubiKey 5 NFC", aaguidYubiKey5NFC, 350), b.authenticator("Galaxy S24", "6.2404.2872", 340))
	b.member(7, "Lukas", "Becker", "lukas.becker", "Identity Operations Analyst", itDept, hamburg,
		b.authenticator("iPhone 14", "6.8.10", 290), phone("+49 40 5550107", "mobile", "notSupported"))
	b.member(8, "Jamal", "Washington", "jamal.washington", "Senior Support Engineer", deskDept, seattle,
		b.authenticator("iPhone 15", "6.8.14", 260))
	b.member(9, "Mei", "Chen", "mei.chen", "HR Systems Administrator", hr, seattle,
		b.authenticator("iPhone 12", "6.8.3", 600), email("mei.chen.home@outlook.example"))
	b.member(10, "Henrik", "Ångström", "henrik.angstrom", "Security Auditor", "Risk & Compliance", stock,
		b.hello("NW-LT-0310", 200), b.authenticator("iPhone 15", "6.8.14", 198))
	bg1 := b.member(11, "Emergency Access", "01", "emergency-access-01", "", "", "",
		b.fido2("Break-glass key A", "YubiKey 5 NFC", aaguidYubiKey5NFC, 700), b.fido2("Break-glass key B", "YubiKey 5 NFC", aaguidYubiKey5NFC, 700))
	bg2 := b.member(12, "Emergency Access", "02", "emergency-access-02", "", "", "",
		b.fido2("Break-glass key C", "YubiKey 5Ci", aaguidYubiKey5Ci, 700))
	for _, u := range []*User{bg1, bg2} {
		u.Mail, u.GivenName, u.Surname, u.EmployeeID, u.BusinessPhones = "", "", "", "", nil
		// Emergency access accounts hold no licence, so no mailbox.
		u.Mailbox = false
	}

	// Executives, the protected group, and an assistant inside it through
	// a nested group.
	b.member(13, "Catherine", "Wallace", "catherine.wallace", "Chief Executive Officer", execOff, seattle,
		b.authenticator("iPhone 15 Pro Max", "6.8.14", 420), phone("+1 2065550113", "mobile", "notSupported"))
	b.member(14, "Rajesh", "Iyer", "rajesh.iyer", "Chief Financial Officer", finance, seattle,
		b.authenticator("iPhone 15", "6.8.14", 410))
	b.member(15, "Siobhán", "O'Brien", "siobhan.obrien", "Chief Operating Officer", "Operations", dublin,
		b.authenticator("Pixel 7", "6.2403.1999", 405), b.fido2("Travel key", "YubiKey 5Ci", aaguidYubiKey5Ci, 100))
	b.member(16, "Zoë", "Laurent", "zoe.laurent", "Executive Assistant", execOff, seattle,
		b.authenticator("iPhone 14", "6.8.12", 220))

	// A pass in each state.
	tomas := b.member(17, "Tomás", "Herrera", "tomas.herrera", "Warehouse Associate", logistics, tacoma)
	amara := b.member(18, "Amara", "Okafor", "amara.okafor", "Graduate Analyst", finance, seattle)
	ben := b.member(19, "Ben", "Carter", "ben.carter", "Field Sales Representative", sales, austin,
		phone("+1 5125550119", "mobile", "notSupported"))
	chloe := b.member(20, "Chloé", "Dubois", "chloe.dubois", "Customer Success Manager", service, montreal,
		b.method(MethodAuthenticator, map[string]any{
			"displayName": "iPhone 13 mini", "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.8.14",
		}, now.Add(-170*time.Minute)))
	tomas.CreatedDateTime, amara.CreatedDateTime = b.daysAgo(2), b.daysAgo(1)
	chloe.LastSignIn = now.Add(-172 * time.Minute)
	tomas.TAP = &TAP{ID: "f6000000-0000-4000-8000-000000000017", Created: now.Add(-25 * time.Minute),
		Start: now.Add(-25 * time.Minute), LifetimeMinutes: 480}
	amara.TAP = &TAP{ID: "f6000000-0000-4000-8000-000000000018", Created: now.Add(-2 * time.Hour),
		Start: now.Add(18 * time.Hour), LifetimeMinutes: 480, UsableOnce: true}
	ben.TAP = &TAP{ID: "f6000000-0000-4000-8000-000000000019", Created: b.daysAgo(3),
		Start: b.daysAgo(3), LifetimeMinutes: 60}
	chloe.TAP = &TAP{ID: "f6000000-0000-4000-8000-000000000020", Created: now.Add(-3 * time.Hour),
		Start: now.Add(-3 * time.Hour), LifetimeMinutes: 480, UsableOnce: true, Used: true}

	// Disabled accounts: one left the company, one is synced from
	// on-premises and disabled there.
	// Victor left: his licence, and with it his mailbox, went when his
	// account was disabled.
	victor := b.member(21, "Victor", "Hale", "victor.hale", "Account Manager", sales, austin,
		b.authenticator("iPhone 11", "6.7.2", 800))
	victor.AccountEnabled, victor.Mailbox = false, false
	greta := b.member(22, "Greta", "Novak", "greta.novak", "Inventory Clerk", logistics, tacoma)
	greta.AccountEnabled, greta.OnPremisesSyncEnabled = false, true

	// External guests.
	jane := b.guest(23, "Jane", "Doe", "jane.doe@fabrikam.example")
	jane.JobTitle = "Consultant"
	b.guest(24, "Kenji", "Watanabe", "kenji.watanabe@contoso.example")
	b.guest(25, "Lucía", "Fernández", "lucia.fernandez@adatum.example").AccountEnabled = false

	// A user whose every free-text field carries markup, for the tests
	// that prove the portal escapes what Graph returns. The UPN and mail
	// stay valid addresses because Entra refuses anything else there.
	mallory := b.member(26, "<b>Mallory</b>", "Tester<script>alert('surname')</script>", "mallory.tester",
		"<script>alert('job')</script>", `"><svg onload=alert('dept')>`, `<iframe src="javascript:alert('office')">`,
		b.fido2("<script>alert('key')</script>", `<img src=x onerror=alert('model')>`, aaguidYubiKey5NFC, 30),
		b.authenticator(`"><img src=x onerror=alert('device')>`, "6.8.14", 29))
	mallory.DisplayName = "<img src=x onerror=alert(1)> Mallory Tester"
	mallory.EmployeeID = "<i>E-666</i>"
	mallory.MobilePhone = "+1 555 0100 <b>call</b>"
	mallory.BusinessPhones = []string{`<a href="javascript:alert('phone')">call</a>`}

	// Everyone else.
	b.member(27, "Thị Lan", "Nguyễn", "lan.nguyen", "Data Analyst", finance, seattle,
		b.authenticator("Galaxy A54", "6.2405.3421", 140)).DisplayName = "Nguyễn Thị Lan"
	b.member(28, "José", "Martínez", "jose.martinez", "Sales Manager", sales, austin,
		b.authenticator("iPhone 14 Pro", "6.8.12", 330), phone("+1 5125550128", "mobile", "notSupported"))
	b.member(29, "Jürgen", "Müller", "juergen.mueller", "Supply Chain Planner", logistics, hamburg,
		phone("+49 40 5550129", "mobile", "notSupported")).OnPremisesSyncEnabled = true
	b.member(30, "Patrick", "O'Brien", "patrick.o'brien", "Accounts Payable Specialist", finance, dublin,
		b.authenticator("iPhone 12", "6.8.3", 510))
	b.member(31, "Łukasz", "Wiśniewski", "lukasz.wisniewski", "Software Engineer", eng, krakow,
		b.hello("NW-DT-0455", 180), b.authenticator("Pixel 8 Pro", "6.2405.3421", 179))
	b.member(32, "Fatima", "Al-Sayed", "fatima.al-sayed", "HR Business Partner", hr, seattle,
		b.authenticator("iPhone 15", "6.8.14", 90))
	b.member(33, "Kwame", "Mensah", "kwame.mensah", "Logistics Coordinator", logistics, tacoma,
		phone("+1 2535550133", "mobile", "ready")).OnPremisesSyncEnabled = true
	b.member(34, "Emily", "Johnson", "emily.johnson", "Marketing Manager", marketing, seattle,
		b.authenticator("iPhone 14", "6.8.12", 270), b.fido2("Keyring key", "YubiKey 5 NFC", aaguidYubiKey5NFC, 260))
	b.member(35, "Emily", "Johnston", "emily.johnston", "Legal Counsel", legal, seattle,
		b.authenticator("iPhone 13", "6.8.10", 310))
	b.member(36, "John", "Smith", "john.smith", "Warehouse Supervisor", logistics, tacoma,
		phone("+1 2535550136", "mobile", "notSupported"), phone("+1 2535550236", "office", "notSupported")).OnPremisesSyncEnabled = true
	b.member(37, "Johnny", "Smithers", "johnny.smithers", "Facilities Coordinator", facility, portland,
		b.oath())
	b.member(38, "Sarah", "Lee", "sarah.lee", "Payroll Specialist", hr, portland,
		b.platform("NW-MBP-0231", 120), b.authenticator("iPhone 15", "6.8.14", 118))
	b.member(39, "David", "Cohen", "david.cohen", "Software Engineer", eng, seattle,
		b.platform("NW-MBP-0187", 95), b.fido2("Work key", "YubiKey 5Ci", aaguidYubiKey5Ci, 94))
	b.member(40, "Ana", "Souza", "ana.souza", "Customer Support Agent", service, austin,
		phone("+1 5125550140", "mobile", "ready"))
	b.member(41, "Mohammed", "Haddad", "mohammed.haddad", "Procurement Officer", finance, seattle,
		b.authenticator("Galaxy S23", "6.2404.2872", 230))
	b.member(42, "Grace", "Thompson", "grace.thompson", "Receptionist", facility, seattle)
	b.member(43, "Arjun", "Mehta", "arjun.mehta", "DevOps Engineer", eng, seattle,
		b.hello("NW-LT-0399", 160), b.authenticator("iPhone 15 Pro", "6.8.14", 159), b.fido2("Backup key", "YubiKey 5 NFC", aaguidYubiKey5NFC, 158))
	b.member(44, "Yuki", "Tanaka", "yuki.tanaka", "UX Designer", "Product Design", seattle,
		b.authenticator("iPhone 14", "6.8.12", 240))
	b.member(45, "Liam", "Murphy", "liam.murphy", "Delivery Driver", logistics, tacoma).OnPremisesSyncEnabled = true
	b.member(46, "Olivia", "Brown", "olivia.brown", "Sales Development Representative", sales, austin,
		b.authenticator("Pixel 7a", "6.2403.1999", 75))
	b.member(47, "Noah", "Wilson", "noah.wilson", "Warehouse Associate", logistics, tacoma,
		phone("+1 2535550147", "mobile", "notSupported")).OnPremisesSyncEnabled = true
	b.member(48, "Isabella", "Rossi", "isabella.rossi", "Financial Controller", finance, seattle,
		b.authenticator("iPhone 15", "6.8.14", 300), email("isabella.rossi@gmail.example"))
	b.member(49, "Ethan", "Clarke", "ethan.clarke", "Network Engineer", itDept, seattle,
		b.fido2("Network team key", "YubiKey 5 NFC", aaguidYubiKey5NFC, 450), b.hello("NW-LT-0077", 440))
	b.member(50, "Sophie", "Martin", "sophie.martin", "Legal Assistant", legal, montreal,
		email("sophie.martin@proton.example"))

	// Privilege held the ways PIM, administrative units and custom roles
	// grant it.
	b.member(51, "Rafael", "Costa", "rafael.costa", "Cloud Platform Lead", itDept, seattle,
		b.fido2("Primary key", "YubiKey 5 NFC", aaguidYubiKey5NFC, 200), b.authenticator("iPhone 15 Pro", "6.8.14", 199))
	b.member(52, "Hannah", "Schmidt", "hannah.schmidt", "Identity Architect", itDept, hamburg,
		b.authenticator("Pixel 8", "6.2405.3421", 150))
	b.member(53, "Kofi", "Boateng", "kofi.boateng", "Site Reliability Engineer", eng, seattle,
		b.hello("NW-LT-0512", 120), b.authenticator("iPhone 14", "6.8.12", 119))
	b.member(54, "Ingrid", "Larsen", "ingrid.larsen", "Security Operations Manager", itDept, seattle,
		b.fido2("SOC key", "YubiKey 5Ci", aaguidYubiKey5Ci, 220))
	b.member(55, "Camille", "Laurent", "camille.laurent", "IT Support Technician", deskDept, paris,
		b.authenticator("iPhone 13", "6.8.10", 260), phone("+33 1 5550155", "mobile", "notSupported"))
	b.member(56, "Dmitri", "Volkov", "dmitri.volkov", "Service Desk Analyst", deskDept, portland,
		b.authenticator("Galaxy S23", "6.2404.2872", 180))
	b.member(57, "Leila", "Haddad", "leila.haddad", "Helpdesk Team Lead", deskDept, seattle,
		b.authenticator("iPhone 15", "6.8.14", 90))
	b.member(58, "Owen", "Price", "owen.price", "Former Cloud Engineer, now Product Owner", "Product Design", seattle,
		b.authenticator("iPhone 12", "6.8.3", 400))

	// Fault demonstration accounts (see StartDemo).
	b.member(59, "Faye", "Timeout", "faye.timeout", "Test account: Graph acts, then fails", "Quality Assurance", seattle)
	b.member(60, "Uma", "Unsure", "uma.unsure", "Test account: Graph fails, maybe before acting", "Quality Assurance", seattle)
	b.member(61, "Eve", "Spoof", "eve.spoof", "Contractor\u200b", "Quality Assurance", seattle).DisplayName = "Eve \u202enimda\u202c Spoof"
	b.member(62, "Nadia", "Gap", "nadia.gap", "Test account: the audit log loses her pass changes", "Quality Assurance", seattle)
	b.t.AuditGaps = map[string]bool{AuditGapUserID: true}

	// The portal's shared mailbox, and a frontline shift lead without a
	// licence.
	box := b.member(63, "TAP", "Portal", "tap-portal", "", "", "")
	box.DisplayName, box.GivenName, box.Surname, box.EmployeeID, box.BusinessPhones = "TAP Portal", "", "", "", nil
	box.AccountEnabled = false
	bruno := b.member(64, "Bruno", "Keller", "bruno.keller", "Night Shift Lead", logistics, tacoma)
	bruno.Mail, bruno.Mailbox = "", false
	b.reportingLines()
	b.t.Contacts = []*Contact{{ID: AgencyContactID, DisplayName: "Ruth Okonkwo (Harbor Staffing)", Mail: "ruth.okonkwo@harborstaffing.example", CompanyName: "Harbor Staffing"}}
	b.t.LookupUser(SpoofedNameUserID).Manager = AgencyContactID

	// Passes made outside the portal, whose follow-up the portal shows: a
	// script's pass on an account that can become Global Administrator
	// through PIM for Groups, and a reusable pass still usable after its
	// holder registered Microsoft Authenticator with it. Their methods
	// are added last so that the other seeded method ids stay as they are.
	kofi := b.t.LookupUser(PIMGroupMemberUserID)
	kofi.TAP = &TAP{ID: "f6000000-0000-4000-8000-000000000053", Created: now.Add(-50 * time.Minute),
		Start: now.Add(-50 * time.Minute), LifetimeMinutes: 480}
	grace := b.t.LookupUser(StillUsableUserID)
	grace.TAP = &TAP{ID: "f6000000-0000-4000-8000-000000000042", Created: now.Add(-90 * time.Minute),
		Start: now.Add(-90 * time.Minute), LifetimeMinutes: 480}
	grace.LastSignIn = now.Add(-72 * time.Minute)
	grace.Methods = append(grace.Methods, b.method(MethodAuthenticator, map[string]any{
		"displayName": "iPhone SE", "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.8.14",
	}, now.Add(-70*time.Minute)))
	b.t.LookupUser(EndingUnusedUserID).TAP = &TAP{ID: "f6000000-0000-4000-8000-000000000044", Created: now.Add(-58 * time.Minute),
		Start: now.Add(-58 * time.Minute), LifetimeMinutes: 60, UsableOnce: true}

	b.t.Groups = []*Group{
		{ID: ExecutiveGroupID, DisplayName: "Executive Leadership", Description: "Executives and their office. Protected: no helpdesk passes.",
			Members: []string{userID(13), userID(14), userID(15), ExecutiveOfficeGroupID}},
		{ID: ExecutiveOfficeGroupID, DisplayName: "Executive Office Staff", Description: "Assistants to the executive team.",
			Members: []string{userID(16)}},
		{ID: BreakGlassGroupID, DisplayName: "Break-glass accounts", Description: "Emergency access accounts, excluded from every credential policy.",
			Members: []string{userID(11), userID(12)}},
		{ID: EligibleGroupID, DisplayName: "Eligible for TAP", Description: "Staff the helpdesk may issue a Temporary Access Pass to.",
			Members: []string{userID(3), userID(19), userID(20), userID(21), userID(22), userID(26), userID(27), userID(28), userID(29),
				userID(30), userID(31), userID(32), userID(33), userID(34), userID(35), userID(36), userID(37), userID(38), userID(39),
				userID(40), userID(41), userID(42), userID(43), userID(44), userID(45), userID(46), userID(47), userID(48), userID(49),
				userID(50), NewStartersGroupID}},
		{ID: NewStartersGroupID, DisplayName: "New Starters", Description: "Joined in the last 30 days.",
			Members: []string{userID(17), userID(18)}},
		{ID: TierTwoAdminsGroupID, DisplayName: "Tier 2 Support Admins", Description: "Holds Helpdesk Administrator.",
			IsAssignableToRole: true, Members: []string{userID(8)}},
		{ID: ServiceDeskGroupID, DisplayName: "IT Service Desk", Description: "Service desk staff.",
			Members: []string{userID(1), userID(2), userID(4), userID(8)}},
		{ID: FinanceGroupID, DisplayName: "Finance Team", Description: "Finance department.",
			Members: []string{userID(14), userID(18), userID(27), userID(30), userID(41), userID(48)}},
		{ID: Tier0AdminsGroupID, DisplayName: "Tier 0 Admins", Description: "Holds Global Administrator. Membership through PIM only.",
			IsAssignableToRole: true},
		{ID: IdentityAdminsGroupID, DisplayName: "Identity Admins", Description: "Eligible for Privileged Role Administrator.",
			IsAssignableToRole: true, Members: []string{EligibleViaGroupUserID}},
		{ID: PortalSupervisorsGroupID, DisplayName: "TAP Portal Supervisors", Description: "Assigned the TAP Portal supervisor role.",
			Members: []string{StaffGroupUserID}},
		{ID: SecurityTeamGroupID, DisplayName: "Security Operations", Description: "The security team; mail to it reaches its members.",
			Members: []string{userID(54)}, Mail: SecurityTeamAddress},
	}
	b.t.AdministrativeUnits = []*AdministrativeUnit{
		{ID: ParisUnitID, DisplayName: "Paris office", Description: "Staff of the Paris office.", Members: []string{ScopedHelpdeskUserID}},
	}

	b.t.RoleDefinitions = append(builtInRoles(), &RoleDefinition{ID: PasswordResetRoleID, DisplayName: "Northwind Password Reset Operator",
		Description: "Resets passwords and sign-in methods of the Northwind office staff.", BuiltIn: false})
	active := func(n int, principal, role, scope string) {
		b.t.RoleAssignments = append(b.t.RoleAssignments, &RoleAssignment{ID: fmt.Sprintf("ra-seed-%02d", n),
			PrincipalID: principal, RoleDefinitionID: role, DirectoryScopeID: scope})
	}
	active(1, GlobalAdminUserID, RoleGlobalAdministrator, "/")
	active(2, userID(11), RoleGlobalAdministrator, "/")
	active(3, userID(12), RoleGlobalAdministrator, "/")
	active(4, userID(6), RolePrivilegedAuthAdministrator, "/")
	active(5, userID(7), RoleAuthenticationAdministrator, "/")
	active(6, TierTwoAdminsGroupID, RoleHelpdeskAdministrator, "/")
	active(7, userID(9), RoleUserAdministrator, "/")
	active(8, userID(10), RoleGlobalReader, "/")
	active(9, Tier0AdminsGroupID, RoleGlobalAdministrator, "/")
	active(10, ScopedHelpdeskUserID, RoleHelpdeskAdministrator, "/administrativeUnits/"+ParisUnitID)
	active(11, CustomRoleUserID, PasswordResetRoleID, "/")
	b.t.RoleEligibilities = []*RoleEligibility{
		{ID: "re-seed-01", PrincipalID: PIMGlobalAdminUserID, RoleDefinitionID: RoleGlobalAdministrator, DirectoryScopeID: "/",
			Start: b.daysAgo(60), End: b.now.Add(300 * 24 * time.Hour)},
		{ID: "re-seed-02", PrincipalID: IdentityAdminsGroupID, RoleDefinitionID: RolePrivilegedRoleAdministrator, DirectoryScopeID: "/",
			Start: b.daysAgo(200)},
		{ID: "re-seed-03", PrincipalID: LapsedEligibilityUserID, RoleDefinitionID: RoleGlobalAdministrator, DirectoryScopeID: "/",
			Start: b.daysAgo(180), End: b.daysAgo(7)},
	}
	b.t.GroupEligibilities = []*GroupEligibility{
		{ID: "ge-seed-01", PrincipalID: PIMGroupMemberUserID, GroupID: Tier0AdminsGroupID, AccessID: "member", Start: b.daysAgo(30), End: b.now.Add(150 * 24 * time.Hour)},
		{ID: "ge-seed-02", PrincipalID: PIMGroupOwnerUserID, GroupID: Tier0AdminsGroupID, AccessID: "owner", Start: b.daysAgo(90)},
	}
	b.t.ServicePrincipals = []*ServicePrincipal{{
		ID: "b8000000-0000-4000-8000-000000000001", AppID: DemoSignInAppID, DisplayName: "TAP Portal",
		AppRoles: []AppRole{
			{ID: AppRoleOperatorID, Value: "TAP.Operator", DisplayName: "Operator", Description: "Helpdesk operators: issue and revoke passes."},
			{ID: AppRoleSupervisorID, Value: "TAP.Supervisor", DisplayName: "Supervisor", Description: "Helpdesk supervisors: everything, and the history."},
			{ID: AppRoleOtherNameID, Value: "Helpdesk.TemporaryAccessPass", DisplayName: "Helpdesk (other naming)", Description: "The operator role as another tenant names it."},
		},
		Assignments: []AppRoleAssignment{
			{ID: "ara-seed-01", AppRoleID: AppRoleOperatorID, PrincipalID: OperatorUserID, PrincipalType: "User", PrincipalDisplayName: "Priya Natarajan", Created: b.daysAgo(300)},
			{ID: "ara-seed-02", AppRoleID: AppRoleSupervisorID, PrincipalID: SupervisorUserID, PrincipalType: "User", PrincipalDisplayName: "Marcus Oyelaran", Created: b.daysAgo(300)},
			{ID: "ara-seed-03", AppRoleID: AppRoleOtherNameID, PrincipalID: OtherOperatorUserID, PrincipalType: "User", PrincipalDisplayName: "Tomás Ferreira", Created: b.daysAgo(120)},
			{ID: "ara-seed-04", AppRoleID: AppRoleSupervisorID, PrincipalID: PortalSupervisorsGroupID, PrincipalType: "Group", PrincipalDisplayName: "TAP Portal Supervisors", Created: b.daysAgo(60)},
		},
	}}

	b.t.Policy = defaultPolicy()
	b.t.Policy.ExcludeTargets = []PolicyTarget{{TargetType: "group", ID: BreakGlassGroupID}}

	b.seedAudits()
	return b.t
}

// reportingLines sets who reports to whom, by seed number. Most members
// report to someone in their department. Nobody manages the chief
// executive, the emergency access accounts, the markup and test
// accounts, the shared mailbox or the new starter NoManagerUserID;
// guests have no manager in the tenant.
func (b *seeder) reportingLines() {
	for _, line := range []struct {
		manager int
		staff   []int
	}{
		{13, []int{14, 15, 16, 35}},                // the chief executive: her officers, assistant and counsel
		{15, []int{5, 20, 28, 32, 34, 36, 37, 58}}, // the chief operating officer: the heads of department
		{14, []int{10, 48}},                        // the chief financial officer: audit and the controller
		{48, []int{27, 30, 41}},                    // finance
		{5, []int{2, 6, 7, 49, 51, 52, 54}},        // IT
		{2, []int{1, 4, 8, 57}},                    // the service desk
		{57, []int{55, 56}},                        // the helpdesk team
		{51, []int{31, 39, 43, 53}},                // engineering, under the cloud platform lead
		{32, []int{9, 38}},                         // human resources
		{28, []int{3, 19, 21}},                     // sales
		{21, []int{46}},                            // a line HR left behind when Victor went
		{20, []int{40}},                            // customer service
		{36, []int{17, 22, 29, 33, 64}},            // logistics
		{64, []int{45, 47}},                        // the night shift, under a lead without a mailbox
		{37, []int{42}},                            // facilities
		{35, []int{50}},                            // legal
		{58, []int{44}},                            // product design
	} {
		for _, n := range line.staff {
			b.t.LookupUser(userID(n)).Manager = userID(line.manager)
		}
	}
}

// seedAudits writes the history that led to the seeded passes, oldest
// first: some from the admin center (a user initiates), some from a
// script (an app initiates).
func (b *seeder) seedAudits() {
	jamal, lukas, mei := b.t.LookupUser(userID(8)), b.t.LookupUser(userID(7)), b.t.LookupUser(userID(9))
	add := func(at time.Time, by *User, app bool, target *User, activity, service, category, operation, reason string) {
		e := &AuditEntry{
			ID:                  auditID(),
			ActivityDateTime:    at,
			ActivityDisplayName: activity,
			Category:            category,
			LoggedByService:     service,
			OperationType:       operation,
			Result:              "success",
			ResultReason:        reason,
			TargetID:            target.ID,
			TargetUPN:           target.UserPrincipalName,
			TargetDisplayName:   target.DisplayName,
			TargetType:          "User",
			CorrelationID:       newGUID(),
		}
		if app {
			e.InitiatedByAppID, e.InitiatedByAppName = scriptsAppID, scriptsAppName
		} else {
			e.InitiatedByUserID, e.InitiatedByUserUPN = by.ID, by.UserPrincipalName
		}
		b.t.Audits = append(b.t.Audits, e)
	}
	user := func(n int) *User { return b.t.LookupUser(userID(n)) }
	now := b.now
	add(b.daysAgo(4), lukas, false, user(21), "Admin deleted security info", auditServiceMethod, auditCategory, "Delete",
		"Admin deleted temporary access pass method for user")
	add(b.daysAgo(3), jamal, false, user(19), "Admin registered security info", auditServiceMethod, auditCategory, "Add",
		"Admin registered temporary access pass method for user")
	add(b.daysAgo(1), mei, false, user(21), "Update user", "Core Directory", auditCategory, "Update", "")
	add(now.Add(-3*time.Hour), nil, true, user(20), "Admin registered security info", auditServiceMethod, auditCategory, "Add",
		"Admin registered temporary access pass method for user")
	add(now.Add(-170*time.Minute), user(20), false, user(20), "User registered security info", auditServiceMethod, auditCategory, "Add",
		"User registered Microsoft Authenticator App with Notification and Code")
	add(now.Add(-2*time.Hour), jamal, false, user(18), "Admin registered security info", auditServiceMethod, auditCategory, "Add",
		"Admin registered temporary access pass method for user")
	add(now.Add(-90*time.Minute), jamal, false, user(42), "Admin registered security info", auditServiceMethod, auditCategory, "Add",
		"Admin registered temporary access pass method for user")
	add(now.Add(-70*time.Minute), user(42), false, user(42), "User registered security info", auditServiceMethod, auditCategory, "Add",
		"User registered Microsoft Authenticator App with Notification and Code")
	add(now.Add(-58*time.Minute), jamal, false, user(44), "Admin registered security info", auditServiceMethod, auditCategory, "Add",
		"Admin registered temporary access pass method for user")
	add(now.Add(-50*time.Minute), nil, true, user(53), "Admin registered security info", auditServiceMethod, auditCategory, "Add",
		"Admin registered temporary access pass method for user")
	add(now.Add(-25*time.Minute), nil, true, user(17), "Admin registered security info", auditServiceMethod, auditCategory, "Add",
		"Admin registered temporary access pass method for user")
}
