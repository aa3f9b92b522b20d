package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/baton-go/baton/sdk/model"
)

// The quickstart's names carry a prefix so that they are easy to find (and
// clean up) on a shared Conductor server.
const (
	workflowName    = "baton_quickstart_order"
	workflowVersion = 1
	ownerEmail      = "quickstart@example.com"

	taskValidate = "baton_qs_validate_order"
	taskCharge   = "baton_qs_charge_card"
	taskShip     = "baton_qs_ship_order"
	taskNotify   = "baton_qs_notify_customer"

	// chargeFailures is how many attempts of the charge step fail on purpose
	// before one succeeds; the server retries it after retryDelaySeconds.
	chargeFailures = 1
	// shipCallbacks is how many times the ship step answers IN_PROGRESS
	// before it completes; the server hands it back after callbackSeconds.
	shipCallbacks   = 2
	callbackSeconds = 1
	// retryDelaySeconds is short so that the demo stays quick, also on a real
	// Conductor server where retries wait in a delayed queue.
	retryDelaySeconds = 1
)

// tasksPerWorkflow is how many handler calls one workflow takes when all goes
// as designed: one per step, plus the failed charge attempts and the
// IN_PROGRESS visits of the ship step.
const tasksPerWorkflow = 4 + chargeFailures + shipCallbacks

// taskNames lists the task types in the order the workflow runs them.
var taskNames = []string{taskValidate, taskCharge, taskShip, taskNotify}

// taskDefs returns the definitions registered before the run. Conductor OSS
// 3.21 requires an owner email (3.32 does not); the timeouts are small so that a stuck task shows
// up quickly instead of after the server's one-hour default.
func taskDefs() []model.TaskDef {
	defs := make([]model.TaskDef, 0, len(taskNames))
	for _, name := range taskNames {
		defs = append(defs, model.TaskDef{
			Name:                   name,
			Description:            "Baton quickstart step",
			OwnerEmail:             ownerEmail,
			RetryCount:             2,
			RetryLogic:             model.RetryFixed,
			RetryDelaySeconds:      retryDelaySeconds,
			ResponseTimeoutSeconds: 30,
			TimeoutSeconds:         120,
			TimeoutPolicy:          model.TimeoutPolicyTimeOutWF,
		})
	}
	return defs
}

// workflowDef is the quickstart workflow: four SIMPLE steps that pass data
// to each other with ${ref.output.field} expressions.
func workflowDef() *model.WorkflowDef {
	return &model.WorkflowDef{
		Name:          workflowName,
		Description:   "Baton quickstart: validate, charge (fails once, retried), ship (long-running), notify",
		Version:       workflowVersion,
		SchemaVersion: 2,
		OwnerEmail:    ownerEmail,
		InputParameters: []string{
			"orderId", "amountCents",
		},
		Tasks: []model.WorkflowTask{
			{
				Name: taskValidate, TaskReferenceName: "validate", Type: model.TaskTypeSimple,
				InputParameters: map[string]interface{}{
					"orderId":     "${workflow.input.orderId}",
					"amountCents": "${workflow.input.amountCents}",
				},
			},
			{
				Name: taskCharge, TaskReferenceName: "charge", Type: model.TaskTypeSimple,
				InputParameters: map[string]interface{}{
					"orderId":     "${validate.output.orderId}",
					"amountCents": "${validate.output.amountCents}",
				},
			},
			{
				Name: taskShip, TaskReferenceName: "ship", Type: model.TaskTypeSimple,
				InputParameters: map[string]interface{}{
					"orderId":   "${validate.output.orderId}",
					"paymentId": "${charge.output.paymentId}",
				},
			},
			{
				Name: taskNotify, TaskReferenceName: "notify", Type: model.TaskTypeSimple,
				InputParameters: map[string]interface{}{
					"orderId":    "${validate.output.orderId}",
					"trackingId": "${ship.output.trackingId}",
				},
			},
		},
		OutputParameters: map[string]interface{}{
			"orderId":    "${validate.output.orderId}",
			"paymentId":  "${charge.output.paymentId}",
			"trackingId": "${ship.output.trackingId}",
			"message":    "${notify.output.message}",
		},
	}
}

// workflowInput is the input of the i-th workflow of a run.
func workflowInput(i int) map[string]interface{} {
	return map[string]interface{}{
		"orderId":     fmt.Sprintf("order-%04d", i),
		"amountCents": 1000 + i,
	}
}

// The handlers below are the workers' code. They use the task's own fields
// (RetryCount, PollCount) to decide what to do, so that they are stateless
// as Conductor workers should be: any worker process can pick up any attempt.

// validateOrder checks the workflow input and normalises it.
func validateOrder(t *model.Task) (interface{}, error) {
	orderID, _ := t.InputData["orderId"].(string)
	if strings.TrimSpace(orderID) == "" {
		return nil, model.NewNonRetryableError(fmt.Errorf("validate: input orderId must be a non-empty string, got %v", t.InputData["orderId"]))
	}
	amount, err := inputInt(t.InputData, "amountCents")
	if err != nil {
		return nil, model.NewNonRetryableError(fmt.Errorf("validate: %w", err))
	}
	return map[string]interface{}{"orderId": orderID, "amountCents": amount, "valid": true}, nil
}

// errCardTimeout is the charge step's designed failure. The quickstart
// counts these in its summary instead of logging each one: they are the demo,
// not a problem.
var errCardTimeout = errors.New("card network timed out")

// chargeCard fails its first attempt (a simulated card network timeout) so
// that the run shows a server-side retry; the retry succeeds.
func chargeCard(t *model.Task) (interface{}, error) {
	if t.RetryCount < chargeFailures {
		return nil, fmt.Errorf("%w (simulated failure on attempt %d)", errCardTimeout, t.RetryCount+1)
	}
	orderID, _ := t.InputData["orderId"].(string)
	return map[string]interface{}{"paymentId": "pay-" + orderID, "attempts": t.RetryCount + 1}, nil
}

// shipOrder is long-running: instead of blocking a worker slot while the
// parcel is packed, it answers IN_PROGRESS and asks the server to hand the
// task back after callbackSeconds. PollCount tells which visit this is.
func shipOrder(t *model.Task) (interface{}, error) {
	if t.PollCount <= shipCallbacks {
		res := model.NewTaskResult(t)
		res.Status = model.InProgressTask
		res.CallbackAfterSeconds = callbackSeconds
		res.OutputData = map[string]interface{}{"stage": fmt.Sprintf("packing, check %d", t.PollCount)}
		return res, nil
	}
	orderID, _ := t.InputData["orderId"].(string)
	return map[string]interface{}{"trackingId": "trk-" + orderID, "checks": t.PollCount}, nil
}

// notifyCustomer builds the message from the outputs of the earlier steps.
func notifyCustomer(t *model.Task) (interface{}, error) {
	orderID, _ := t.InputData["orderId"].(string)
	tracking, _ := t.InputData["trackingId"].(string)
	if tracking == "" {
		return nil, fmt.Errorf("notify: input trackingId is empty for order %q", orderID)
	}
	return map[string]interface{}{"message": fmt.Sprintf("order %s shipped, tracking %s", orderID, tracking)}, nil
}

// inputInt reads an integer input whichever way the JSON decoder represented
// it (float64, or json.Number when numbers are kept exact).
func inputInt(in map[string]interface{}, key string) (int64, error) {
	switch v := in[key].(type) {
	case float64:
		return int64(v), nil
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case interface{ Int64() (int64, error) }:
		n, err := v.Int64()
		if err != nil {
			return 0, fmt.Errorf("input %s must be an integer, got %v", key, v)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("input %s must be an integer, got %v (%T)", key, in[key], in[key])
	}
}
