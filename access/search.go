package access

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes shown and filterable in the Web UI. Eight of the namespace's custom attributes (SQLite
// visibility allows 10 Keyword, 3 Datetime and 3 KeywordList).
var (
	SAKind      = temporal.NewSearchAttributeKeyKeyword("AccessKind")      // booking, pass, contract, visitor, customer
	SAState     = temporal.NewSearchAttributeKeyKeyword("AccessState")     // a State
	SACustomer  = temporal.NewSearchAttributeKeyKeyword("AccessCustomer")  // Nexudus coworker id
	SALocation  = temporal.NewSearchAttributeKeyKeyword("AccessLocation")  // Nexudus business id
	SASaltoUser = temporal.NewSearchAttributeKeyKeyword("AccessSaltoUser") // Salto site-user id
	SAGrantAt   = temporal.NewSearchAttributeKeyTime("AccessGrantAt")
	SARevokeAt  = temporal.NewSearchAttributeKeyTime("AccessRevokeAt") // customers: the next ledger expiry
	// SADesks are the Nexudus desk and office ids a contract holds: a desk webhook finds the contracts that
	// held the desk before it moved.
	SADesks = temporal.NewSearchAttributeKeyKeywordList("AccessDesks")
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
	SADesks.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}
