package httpport

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// registerFastPaths binds the parameters of the hottest request, the first
// page of GET /challenges/logs/{userId}, without the generated binder (which
// parses the query string and binds each parameter through reflection), then
// calls the same strict handler. Any request it does not recognise (a query
// string, a user id that is not a plain decimal) falls through to the
// generated route, registered next on the same path, which binds and
// reports errors exactly as the contract says. The route template, and so
// the metrics label, is the same.
func registerFastPaths(router fiber.Router, h ServerInterface) {
	router.Get("/challenges/logs/:userId", func(c *fiber.Ctx) error {
		if len(c.Request().URI().QueryString()) != 0 {
			return c.Next()
		}
		id, err := strconv.ParseInt(c.Params("userId"), 10, 64)
		if err != nil {
			return c.Next()
		}
		return h.ListUserLogs(c, id, ListUserLogsParams{})
	})
}
