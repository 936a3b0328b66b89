// Package hostsim is a SIMULATOR of the Azure Functions host (4.x) for tests. It is not the
// Functions host; it reproduces the host's custom-handler behaviour as documented in
// /work/shared/reference/azure-functions-custom-handler.md (§ numbers below refer to it), which
// was read from the host's source, so that tests can run the real handler binary exactly the way
// the host would:
//
//   - Start launches the binary like the host (§1): a free loopback port, the environment
//     variables FUNCTIONS_CUSTOMHANDLER_PORT/FUNCTIONS_HTTPWORKER_PORT, worker id, app root,
//     FUNCTIONS_WORKER_RUNTIME=custom, cwd = customHandler.description.workingDirectory, the
//     host.json arguments; it polls GET / every 25 ms for up to 30 s and captures stdout and
//     stderr line by line.
//   - HTTP enforces authLevel, then either forwards the request (§3, enableForwardingHttpRequest
//     with exactly one httpTrigger and one http output) or sends the §2 invocation envelope and
//     maps Outputs.res back.
//   - ServiceBus and Timer post invocations shaped like the host's (§4, §5), validate the replies
//     (§6, §8) and model settlement: complete, abandon and redeliver with DeliveryCount+1, dead-
//     letter after maxDeliveryCount; timer retries with RetryContext when a retry policy is set.
//
// Where the reference marks a behaviour as inferred, the simulator follows the inference and says
// so in the doc comment. Where the host is lenient about something our contract forbids (a null
// Logs array, for instance), the simulator is strict and says so. The package deliberately does
// not import the protocol library it helps to test (internal/functions).
package hostsim
