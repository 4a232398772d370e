package devoidc

// DemoTenantID is the tid claim of the demo tenant. It is the tenant id the
// Graph emulator uses for the same made-up company, so that both halves of
// `portal dev` describe one tenant.
const DemoTenantID = "6f1d3c2a-8b4e-4d7a-9e21-3c5b7a9d0e14"

// DemoPersonas returns the people of the demo tenant's picker. Their subjects
// are the object ids of users seeded in the Graph emulator, so the portal can
// tell an operator's own account from the others. The last one holds the
// operator role under another tenant's naming, to show the portal's
// configurable role values: with the defaults it is refused like a user with
// no role.
func DemoPersonas() []Persona {
	return []Persona{
		{
			Key:         "operator",
			Name:        "Priya Natarajan",
			Email:       "priya.natarajan@northwind.example",
			Subject:     "a1000000-0000-4000-8000-000000000001",
			Roles:       []string{"TAP.Operator"},
			Description: "Helpdesk operator. Finds users, issues and revokes Temporary Access Passes, and sees her own history.",
		},
		{
			Key:         "supervisor",
			Name:        "Marcus Oyelaran",
			Email:       "marcus.oyelaran@northwind.example",
			Subject:     "a1000000-0000-4000-8000-000000000002",
			Roles:       []string{"TAP.Supervisor"},
			Description: "Helpdesk supervisor. Everything an operator does, plus everyone's history, exports and charts.",
		},
		{
			Key:         "no-role",
			Name:        "Dana Whitfield",
			Email:       "dana.whitfield@northwind.example",
			Subject:     "a1000000-0000-4000-8000-000000000003",
			Description: "Sales staff with no portal role. The portal turns her away.",
		},
		{
			Key:         "other-role-name",
			Name:        "Tomás Ferreira",
			Email:       "tomas.ferreira@northwind.example",
			Subject:     "a1000000-0000-4000-8000-000000000004",
			Roles:       []string{"Helpdesk.TemporaryAccessPass"},
			Description: "Operator whose app role is named the way another tenant names it. He gets in only when the portal's operator role value is set to match.",
		},
	}
}
