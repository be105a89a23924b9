package access

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes shown and filterable in the Web UI. Seven of the namespace's custom attributes (SQLite
// visibility allows 10 Keyword and 3 Datetime).
var (
	SAKind      = temporal.NewSearchAttributeKeyKeyword("AccessKind")      // booking, pass, contract, visitor, customer
	SAState     = temporal.NewSearchAttributeKeyKeyword("AccessState")     // a State
	SACustomer  = temporal.NewSearchAttributeKeyKeyword("AccessCustomer")  // Nexudus coworker id
	SALocation  = temporal.NewSearchAttributeKeyKeyword("AccessLocation")  // Nexudus business id
	SASaltoUser = temporal.NewSearchAttributeKeyKeyword("AccessSaltoUser") // Salto site-user id
	SAGrantAt   = temporal.NewSearchAttributeKeyTime("AccessGrantAt")
	SARevokeAt  = temporal.NewSearchAttributeKeyTime("AccessRevokeAt") // customers: the next ledger expiry
)

// KindCustomer is the AccessKind of customer workflows.
const KindCustomer = "customer"

// SearchAttributes maps every attribute above to its type, for registering them on a namespace.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	SAKind.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAState.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SACustomer.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SALocation.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SASaltoUser.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAGrantAt.GetName():   enumspb.INDEXED_VALUE_TYPE_DATETIME,
	SARevokeAt.GetName():  enumspb.INDEXED_VALUE_TYPE_DATETIME,
}
