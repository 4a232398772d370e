package graph

import (
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	textserialization "github.com/microsoft/kiota-serialization-text-go"
	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/directory"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/identitygovernance"
	"github.com/microsoftgraph/msgraph-sdk-go/policies"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipalswithappid"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// services are the SDK's request builders for the parts of Graph the
// portal reads and writes. The SDK's GraphServiceClient offers every
// part of Graph, and naming it links all of them into the binary: the
// portal was 135 MB, and the kernel maps such a binary's pages in large
// runs, so that most of the process's memory was its own executable.
type services struct {
	path    map[string]string
	adapter abstractions.RequestAdapter
}

// newServices sets adapter up as the SDK's client constructor does: the
// JSON and text formats (the only ones Graph's replies to the portal use)
// and the Graph root as the base URL. The backing store keeps its default
// factory: setting it writes the SDK's global, which races with replies
// being decoded by clients made earlier in the same process.
func newServices(adapter abstractions.RequestAdapter) *services {
	abstractions.RegisterDefaultSerializer(func() serialization.SerializationWriterFactory {
		return jsonserialization.NewJsonSerializationWriterFactory()
	})
	abstractions.RegisterDefaultSerializer(func() serialization.SerializationWriterFactory {
		return textserialization.NewTextSerializationWriterFactory()
	})
	abstractions.RegisterDefaultDeserializer(func() serialization.ParseNodeFactory { return jsonserialization.NewJsonParseNodeFactory() })
	abstractions.RegisterDefaultDeserializer(func() serialization.ParseNodeFactory { return textserialization.NewTextParseNodeFactory() })
	adapter.EnableBackingStore(nil)
	return &services{path: map[string]string{"baseurl": adapter.GetBaseUrl()}, adapter: adapter}
}

func (s *services) AuditLogs() *auditlogs.AuditLogsRequestBuilder {
	return auditlogs.NewAuditLogsRequestBuilderInternal(s.path, s.adapter)
}

func (s *services) Users() *users.UsersRequestBuilder {
	return users.NewUsersRequestBuilderInternal(s.path, s.adapter)
}

func (s *services) Groups() *groups.GroupsRequestBuilder {
	return groups.NewGroupsRequestBuilderInternal(s.path, s.adapter)
}

func (s *services) Directory() *directory.DirectoryRequestBuilder {
	return directory.NewDirectoryRequestBuilderInternal(s.path, s.adapter)
}

func (s *services) IdentityGovernance() *identitygovernance.IdentityGovernanceRequestBuilder {
	return identitygovernance.NewIdentityGovernanceRequestBuilderInternal(s.path, s.adapter)
}

func (s *services) Policies() *policies.PoliciesRequestBuilder {
	return policies.NewPoliciesRequestBuilderInternal(s.path, s.adapter)
}

func (s *services) RoleManagement() *rolemanagement.RoleManagementRequestBuilder {
	return rolemanagement.NewRoleManagementRequestBuilderInternal(s.path, s.adapter)
}

func (s *services) ServicePrincipals() *serviceprincipals.ServicePrincipalsRequestBuilder {
	return serviceprincipals.NewServicePrincipalsRequestBuilderInternal(s.path, s.adapter)
}

func (s *services) ServicePrincipalsWithAppId(appID *string) *serviceprincipalswithappid.ServicePrincipalsWithAppIdRequestBuilder {
	return serviceprincipalswithappid.NewServicePrincipalsWithAppIdRequestBuilderInternal(s.path, s.adapter, appID)
}
