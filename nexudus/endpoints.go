package nexudus

import (
	"context"
	"net/url"
	"time"
)

// Entity collection paths.
const (
	PathCoworkers           = "/api/spaces/coworkers"
	PathBookings            = "/api/spaces/bookings"
	PathResources           = "/api/spaces/resources"
	PathCoworkerTimePasses  = "/api/billing/coworkertimepasses"
	PathTimePasses          = "/api/billing/timepasses"
	PathCoworkerContracts   = "/api/billing/coworkercontracts"
	PathFloorPlanDesks      = "/api/sys/floorplandesks"
	PathVisitors            = "/api/spaces/visitors"
	PathCheckins            = "/api/spaces/checkins"
	PathAccessControlAudits = "/api/sys/coworkeraccesscontrolaudits"
	PathBusinesses          = "/api/sys/businesses"
	PathWebhooks            = "/api/sys/webhooks"
)

// GetCoworker fetches the full Coworker record.
func (c *Client) GetCoworker(ctx context.Context, id int) (Coworker, error) {
	return getByID[Coworker](ctx, c, PathCoworkers, id)
}

// ListCoworkers returns every Coworker matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListCoworkers(ctx context.Context, q url.Values) ([]Coworker, error) {
	return ListAll[Coworker](ctx, c, PathCoworkers, q)
}

// CreateCoworker creates a Coworker and returns its id.
func (c *Client) CreateCoworker(ctx context.Context, v Coworker) (int, error) {
	return c.create(ctx, PathCoworkers, v)
}

// GetBooking fetches the full Booking record.
func (c *Client) GetBooking(ctx context.Context, id int) (Booking, error) {
	return getByID[Booking](ctx, c, PathBookings, id)
}

// ListBookings returns every Booking matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListBookings(ctx context.Context, q url.Values) ([]Booking, error) {
	return ListAll[Booking](ctx, c, PathBookings, q)
}

// CreateBooking creates a Booking and returns its id.
func (c *Client) CreateBooking(ctx context.Context, v Booking) (int, error) {
	return c.create(ctx, PathBookings, v)
}

// UpdateBooking replaces a Booking (v.Id must be set); send a record read with GetBooking.
func (c *Client) UpdateBooking(ctx context.Context, v Booking) error {
	return c.update(ctx, PathBookings, v.Id, v)
}

// DeleteBooking deletes a Booking.
func (c *Client) DeleteBooking(ctx context.Context, id int) error {
	return c.remove(ctx, PathBookings, id)
}

// GetResource fetches the full Resource record.
func (c *Client) GetResource(ctx context.Context, id int) (Resource, error) {
	return getByID[Resource](ctx, c, PathResources, id)
}

// ListResources returns every Resource matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListResources(ctx context.Context, q url.Values) ([]Resource, error) {
	return ListAll[Resource](ctx, c, PathResources, q)
}

// GetCoworkerTimePass fetches the full CoworkerTimePass record.
func (c *Client) GetCoworkerTimePass(ctx context.Context, id int) (CoworkerTimePass, error) {
	return getByID[CoworkerTimePass](ctx, c, PathCoworkerTimePasses, id)
}

// ListCoworkerTimePasses returns every CoworkerTimePass matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListCoworkerTimePasses(ctx context.Context, q url.Values) ([]CoworkerTimePass, error) {
	return ListAll[CoworkerTimePass](ctx, c, PathCoworkerTimePasses, q)
}

// CreateCoworkerTimePass creates a CoworkerTimePass and returns its id.
func (c *Client) CreateCoworkerTimePass(ctx context.Context, v CoworkerTimePass) (int, error) {
	return c.create(ctx, PathCoworkerTimePasses, v)
}

// UpdateCoworkerTimePass replaces a CoworkerTimePass (v.Id must be set); send a record read with GetCoworkerTimePass.
func (c *Client) UpdateCoworkerTimePass(ctx context.Context, v CoworkerTimePass) error {
	return c.update(ctx, PathCoworkerTimePasses, v.Id, v)
}

// GetTimePass fetches the full TimePass record.
func (c *Client) GetTimePass(ctx context.Context, id int) (TimePass, error) {
	return getByID[TimePass](ctx, c, PathTimePasses, id)
}

// ListTimePasses returns every TimePass matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListTimePasses(ctx context.Context, q url.Values) ([]TimePass, error) {
	return ListAll[TimePass](ctx, c, PathTimePasses, q)
}

// GetContract fetches the full CoworkerContract record.
func (c *Client) GetContract(ctx context.Context, id int) (CoworkerContract, error) {
	return getByID[CoworkerContract](ctx, c, PathCoworkerContracts, id)
}

// ListContracts returns every CoworkerContract matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListContracts(ctx context.Context, q url.Values) ([]CoworkerContract, error) {
	return ListAll[CoworkerContract](ctx, c, PathCoworkerContracts, q)
}

// CreateContract creates a CoworkerContract and returns its id.
func (c *Client) CreateContract(ctx context.Context, v CoworkerContract) (int, error) {
	v.Desks = nil // FloorPlanDeskIds is the writable field; Desks is derived from it
	return c.create(ctx, PathCoworkerContracts, v)
}

// UpdateContract replaces a CoworkerContract (v.Id must be set); send a record read with GetContract.
func (c *Client) UpdateContract(ctx context.Context, v CoworkerContract) error {
	v.Desks = nil // a stale Desks must not contradict FloorPlanDeskIds
	return c.update(ctx, PathCoworkerContracts, v.Id, v)
}

// GetFloorPlanDesk fetches the full FloorPlanDesk record.
func (c *Client) GetFloorPlanDesk(ctx context.Context, id int) (FloorPlanDesk, error) {
	return getByID[FloorPlanDesk](ctx, c, PathFloorPlanDesks, id)
}

// ListFloorPlanDesks returns every FloorPlanDesk matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListFloorPlanDesks(ctx context.Context, q url.Values) ([]FloorPlanDesk, error) {
	return ListAll[FloorPlanDesk](ctx, c, PathFloorPlanDesks, q)
}

// GetVisitor fetches the full Visitor record.
func (c *Client) GetVisitor(ctx context.Context, id int) (Visitor, error) {
	return getByID[Visitor](ctx, c, PathVisitors, id)
}

// ListVisitors returns every Visitor matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListVisitors(ctx context.Context, q url.Values) ([]Visitor, error) {
	return ListAll[Visitor](ctx, c, PathVisitors, q)
}

// CreateVisitor creates a Visitor and returns its id.
func (c *Client) CreateVisitor(ctx context.Context, v Visitor) (int, error) {
	return c.create(ctx, PathVisitors, v)
}

// UpdateVisitor replaces a Visitor (v.Id must be set); send a record read with GetVisitor.
func (c *Client) UpdateVisitor(ctx context.Context, v Visitor) error {
	return c.update(ctx, PathVisitors, v.Id, v)
}

// GetCheckin fetches the full Checkin record.
func (c *Client) GetCheckin(ctx context.Context, id int) (Checkin, error) {
	return getByID[Checkin](ctx, c, PathCheckins, id)
}

// ListCheckins returns every Checkin matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListCheckins(ctx context.Context, q url.Values) ([]Checkin, error) {
	return ListAll[Checkin](ctx, c, PathCheckins, q)
}

// CreateCheckin creates a Checkin and returns its id.
func (c *Client) CreateCheckin(ctx context.Context, v Checkin) (int, error) {
	return c.create(ctx, PathCheckins, v)
}

// UpdateCheckin replaces a Checkin (v.Id must be set); send a record read with GetCheckin.
func (c *Client) UpdateCheckin(ctx context.Context, v Checkin) error {
	return c.update(ctx, PathCheckins, v.Id, v)
}

// GetAccessControlAudit fetches the full CoworkerAccessControlAudit record.
func (c *Client) GetAccessControlAudit(ctx context.Context, id int) (CoworkerAccessControlAudit, error) {
	return getByID[CoworkerAccessControlAudit](ctx, c, PathAccessControlAudits, id)
}

// ListAccessControlAudits returns every CoworkerAccessControlAudit matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListAccessControlAudits(ctx context.Context, q url.Values) ([]CoworkerAccessControlAudit, error) {
	return ListAll[CoworkerAccessControlAudit](ctx, c, PathAccessControlAudits, q)
}

// CreateAccessControlAudit creates a CoworkerAccessControlAudit and returns its id.
func (c *Client) CreateAccessControlAudit(ctx context.Context, v CoworkerAccessControlAudit) (int, error) {
	return c.create(ctx, PathAccessControlAudits, v)
}

// GetBusiness fetches the full Business record.
func (c *Client) GetBusiness(ctx context.Context, id int) (Business, error) {
	return getByID[Business](ctx, c, PathBusinesses, id)
}

// ListBusinesses returns every Business matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListBusinesses(ctx context.Context, q url.Values) ([]Business, error) {
	return ListAll[Business](ctx, c, PathBusinesses, q)
}

// GetWebhook fetches the full Webhook record.
func (c *Client) GetWebhook(ctx context.Context, id int) (Webhook, error) {
	return getByID[Webhook](ctx, c, PathWebhooks, id)
}

// ListWebhooks returns every Webhook matching q (filters, orderBy, dir), all pages. Records
// are partial.
func (c *Client) ListWebhooks(ctx context.Context, q url.Values) ([]Webhook, error) {
	return ListAll[Webhook](ctx, c, PathWebhooks, q)
}

// CreateWebhook creates a Webhook and returns its id.
func (c *Client) CreateWebhook(ctx context.Context, v Webhook) (int, error) {
	return c.create(ctx, PathWebhooks, v)
}

// DeleteWebhook deletes a Webhook.
func (c *Client) DeleteWebhook(ctx context.Context, id int) error {
	return c.remove(ctx, PathWebhooks, id)
}

// CheckoutCheckin closes an open check-in at to: it re-reads the check-in and PUTs it
// with ToTime set.
func (c *Client) CheckoutCheckin(ctx context.Context, id int, to time.Time) (Checkin, error) {
	ck, err := c.GetCheckin(ctx, id)
	if err != nil {
		return Checkin{}, err
	}
	ck.ToTime = NewTime(to)
	if err := c.UpdateCheckin(ctx, ck); err != nil {
		return Checkin{}, err
	}
	return ck, nil
}

// UpdateCoworker replaces a Coworker (v.Id must be set); send a record read with
// GetCoworker.
func (c *Client) UpdateCoworker(ctx context.Context, v Coworker) error {
	return c.update(ctx, PathCoworkers, v.Id, v)
}

// DeleteCheckin deletes a Checkin.
func (c *Client) DeleteCheckin(ctx context.Context, id int) error {
	return c.remove(ctx, PathCheckins, id)
}

// DeleteCoworker deletes a Coworker (staff remove a customer; Nexudus may then send "Customer deleted").
func (c *Client) DeleteCoworker(ctx context.Context, id int) error {
	return c.remove(ctx, PathCoworkers, id)
}
