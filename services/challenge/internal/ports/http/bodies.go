package httpport

import (
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
)

// The request bodies are declared here (x-go-type in api/openapi.yaml) rather
// than generated because every field is a pointer: the handlers must tell a
// missing required field (422 "is required") from a zero value, and the
// generated models hold required fields by value.

// CreateChallengeBody is CreateChallengeRequest.
type CreateChallengeBody struct {
	Title           *string             `json:"title"`
	Exercise        *string             `json:"exercise"`
	Unit            *string             `json:"unit"`
	StartValue      *float64            `json:"startValue"`
	Increment       *float64            `json:"increment"`
	IncrementEvery  *int                `json:"incrementEvery"`
	SessionsPerWeek *int                `json:"sessionsPerWeek"`
	Weeks           *int                `json:"weeks"`
	StartDate       *openapi_types.Date `json:"startDate"`
}

// UpdateChallengeBody is UpdateChallengeRequest.
type UpdateChallengeBody struct {
	Title  *string `json:"title"`
	Status *string `json:"status"`
}

// CreateWorkoutLogBody is CreateWorkoutLogRequest.
type CreateWorkoutLogBody struct {
	PerformedAt *time.Time `json:"performedAt"`
	Sets        *int       `json:"sets"`
	Reps        *int       `json:"reps"`
	Value       *float64   `json:"value"`
	Note        *string    `json:"note"`
}
