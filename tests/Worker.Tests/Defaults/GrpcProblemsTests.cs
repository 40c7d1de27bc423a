using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;
using static Tests.Contracts.RpcFailures;

namespace Worker.Tests.Defaults;

/// <summary>
/// ServiceDefaults: the one mapping between the problem contract and gRPC failures (ServiceDefaults), which the gateway's and the
/// Worker's clients read with and the Worker's gRPC services answer with.
/// </summary>
public sealed class GrpcProblemsTests
{
    [Fact]
    public void The_trailer_is_the_one_python_inference_writes() =>
        Assert.Equal("problem-code", GrpcProblems.ProblemCodeTrailer);

    [Theory]
    [InlineData(StatusCode.InvalidArgument, "batch_too_large", 400)]
    [InlineData(StatusCode.NotFound, "model_not_found", 404)]
    [InlineData(StatusCode.Unavailable, "not_ready", 503)]
    public void A_failure_the_service_described_keeps_its_code_and_detail(StatusCode status, string code, int expected)
    {
        var exception = Failure(status, "Unknown model 'unicorn'.", code);

        var problem = GrpcProblems.FromRpcException(exception, "python-inference");

        Assert.True(GrpcProblems.IsDescribedByService(exception));
        Assert.Equal(expected, problem.Status);
        Assert.Equal(code, problem.Extensions["code"]);
        Assert.Equal($"urn:problem:{code}", problem.Type);
        Assert.Equal("Unknown model 'unicorn'.", problem.Detail);
        Assert.False(problem.Extensions.ContainsKey("errors"));
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument, "validation_failed")]
    [InlineData(StatusCode.NotFound, "not_found")]
    public void Without_a_problem_code_the_http_status_gives_the_code(StatusCode status, string code) =>
        Assert.Equal(code, GrpcProblems.FromRpcException(Failure(status, "x", null), "python-inference").Extensions["code"]);

    [Theory]
    [InlineData(StatusCode.Unavailable, 503, "upstream_unavailable", "python-inference is unavailable. Try again shortly.")]
    [InlineData(StatusCode.Cancelled, 503, "upstream_unavailable", "python-inference is unavailable. Try again shortly.")] // it stopped mid-call
    [InlineData(StatusCode.DeadlineExceeded, 504, "upstream_timeout", "python-inference did not answer in time.")]
    [InlineData(StatusCode.Internal, 502, "upstream_error", "python-inference failed to answer the request.")]
    [InlineData(StatusCode.Unknown, 502, "upstream_error", "python-inference failed to answer the request.")]
    public void Any_other_failure_is_described_by_the_caller_without_internals(StatusCode status, int expected, string code, string title)
    {
        var exception = Failure(status, "Traceback: KeyError at /srv/app.py", null);

        var problem = GrpcProblems.FromRpcException(exception, "python-inference");

        Assert.False(GrpcProblems.IsDescribedByService(exception));
        Assert.Equal(expected, problem.Status);
        Assert.Equal(code, problem.Extensions["code"]);
        Assert.Equal(title, problem.Title);
        // Never the message (it may carry internals); a 502 names the status it was.
        Assert.Equal(expected == 502 ? $"The call ended with gRPC status {status}." : null, problem.Detail);
    }

    [Fact]
    public void A_status_the_client_made_up_from_a_stream_the_server_reset_is_upstream_unavailable_not_an_answer()
    {
        // What Grpc.Net.Client gives when a stopping server resets the call's stream (checked against Kestrel's abort).
        var reset = new HttpRequestException(HttpRequestError.HttpProtocolError,
            "The HTTP/2 server reset the stream. HTTP/2 error code 'INTERNAL_ERROR' (0x2).");
        var exception = new RpcException(new Grpc.Core.Status(StatusCode.Internal, "Error starting gRPC call.", reset));

        Assert.True(GrpcProblems.IsTransportFailure(exception));
        var problem = GrpcProblems.FromRpcException(exception, "python-inference");
        Assert.Equal(503, problem.Status);
        Assert.Equal("upstream_unavailable", problem.Extensions["code"]);

        // The same status answered by the service (no transport failure behind it) is still its failure: 502.
        Assert.False(GrpcProblems.IsTransportFailure(Failure(StatusCode.Internal, "KeyError", null)));
        Assert.Equal(502, GrpcProblems.FromRpcException(Failure(StatusCode.Internal, "KeyError", null), "python-inference").Status);
        // And a deadline stays a timeout whatever the transport did.
        var late = new RpcException(new Grpc.Core.Status(StatusCode.DeadlineExceeded, "Deadline Exceeded", new IOException("closed")));
        Assert.False(GrpcProblems.IsTransportFailure(late));
        Assert.Equal(504, GrpcProblems.FromRpcException(late, "python-inference").Status);
    }

    [Fact]
    public void Field_violations_become_errors_grouped_by_field()
    {
        var badRequest = new BadRequest
        {
            FieldViolations =
            {
                new BadRequest.Types.FieldViolation { Field = "inputs[1]", Description = "must be a string" },
                new BadRequest.Types.FieldViolation { Field = "inputs[1]", Description = "is too long" },
                new BadRequest.Types.FieldViolation { Field = "model", Description = "unknown" },
            },
        };

        var problem = GrpcProblems.FromRpcException(
            Failure(StatusCode.InvalidArgument, "2 invalid fields", "validation_failed", badRequest), "python-inference");

        var errors = Assert.IsType<Dictionary<string, string[]>>(problem.Extensions["errors"]);
        Assert.Equal(["must be a string", "is too long"], errors["inputs[1]"]);
        Assert.Equal(["unknown"], errors["model"]);
        Assert.Equal("2 invalid fields", problem.Detail);
    }

    [Fact]
    public void An_overloaded_service_s_retry_after_trailer_becomes_the_problem_s_retry_after_and_goes_back_the_same()
    {
        var exception = Failure(StatusCode.Unavailable, "256 requests are already in progress; retry shortly.", "overloaded");
        exception.Trailers.Add(GrpcProblems.RetryAfterTrailer, "1"); // as python-inference writes it

        var problem = GrpcProblems.FromRpcException(exception, "python-inference");
        var again = GrpcProblems.ToRpcException(problem);

        Assert.Equal("retry-after", GrpcProblems.RetryAfterTrailer);
        Assert.Equal((503, "overloaded", 1), (problem.Status, problem.Extensions["code"], ProblemDetailsContract.RetryAfterOf(problem)));
        Assert.Equal("1", again.Trailers.GetValue(GrpcProblems.RetryAfterTrailer));
        // Without the trailer, or with one that is not a positive whole number, there is nothing to wait for.
        Assert.Null(ProblemDetailsContract.RetryAfterOf(GrpcProblems.FromRpcException(
            Failure(StatusCode.Unavailable, "x", "not_ready"), "python-inference")));
        var odd = Failure(StatusCode.Unavailable, "x", "overloaded");
        odd.Trailers.Add(GrpcProblems.RetryAfterTrailer, "-3");
        Assert.Null(ProblemDetailsContract.RetryAfterOf(GrpcProblems.FromRpcException(odd, "python-inference")));
        Assert.Null(GrpcProblems.ToRpcException(ProblemDetailsContract.Create(400, ProblemCodes.ValidationFailed, "x"))
            .Trailers.GetValue(GrpcProblems.RetryAfterTrailer));
    }

    [Fact]
    public void A_validation_problem_goes_over_grpc_and_comes_back_the_same()
    {
        var sent = ProblemDetailsContract.Create(400, ProblemCodes.ValidationFailed, "The request is not valid.",
            "Check these fields: name, version.",
            new Dictionary<string, string[]> { ["name"] = ["Required."], ["version"] = ["Required.", "At most 64 characters."] });

        var exception = GrpcProblems.ToRpcException(sent);
        var received = GrpcProblems.FromRpcException(exception, "worker");

        Assert.Equal(StatusCode.InvalidArgument, exception.StatusCode);
        Assert.Equal("validation_failed", exception.Trailers.GetValue(GrpcProblems.ProblemCodeTrailer));
        Assert.Equal(400, received.Status);
        Assert.Equal("validation_failed", received.Extensions["code"]);
        Assert.Equal("Check these fields: name, version.", received.Detail);
        var errors = Assert.IsType<Dictionary<string, string[]>>(received.Extensions["errors"]);
        Assert.Equal(["Required."], errors["name"]);
        Assert.Equal(["Required.", "At most 64 characters."], errors["version"]);
    }

    [Fact]
    public void A_server_can_name_the_fields_as_its_proto_does()
    {
        var problem = ProblemDetailsContract.Create(400, ProblemCodes.ValidationFailed, "The request is not valid.",
            "The request has 1 invalid field: version.artifact_sha256.",
            new Dictionary<string, string[]> { ["artifactSha256"] = ["64 hexadecimal characters."] });

        var exception = GrpcProblems.ToRpcException(problem, field => field == "artifactSha256" ? "version.artifact_sha256" : field);

        var violation = Assert.Single(exception.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations);
        Assert.Equal("version.artifact_sha256", violation.Field);
        Assert.Equal("64 hexadecimal characters.", violation.Description);
        Assert.Equal("The request has 1 invalid field: version.artifact_sha256.", exception.Status.Detail);
    }

    [Theory]
    [InlineData(404, ProblemCodes.ModelVersionNotFound, StatusCode.NotFound)]
    [InlineData(409, ProblemCodes.RegistrationConflict, StatusCode.FailedPrecondition)]
    [InlineData(503, ProblemCodes.BrokerUnavailable, StatusCode.Unavailable)]
    [InlineData(504, ProblemCodes.UpstreamTimeout, StatusCode.DeadlineExceeded)]
    [InlineData(403, ProblemCodes.InsufficientScope, StatusCode.PermissionDenied)]
    [InlineData(500, ProblemCodes.InternalError, StatusCode.Internal)]
    public void A_problem_becomes_the_status_its_http_status_stands_for_with_its_code(int status, string code, StatusCode expected)
    {
        var exception = GrpcProblems.ToRpcException(ProblemDetailsContract.Create(status, code, "Title", "What happened."));

        Assert.Equal(expected, exception.StatusCode);
        Assert.Equal("What happened.", exception.Status.Detail);
        Assert.Equal(code, exception.Trailers.GetValue(GrpcProblems.ProblemCodeTrailer));
        Assert.Null(exception.GetRpcStatus()?.GetDetail<BadRequest>());
    }

    [Fact]
    public void A_problem_without_detail_or_code_sends_its_title_and_the_code_of_its_status()
    {
        var exception = GrpcProblems.ToRpcException(new ProblemDetails { Status = 404, Title = "Not there." });

        Assert.Equal("Not there.", exception.Status.Detail);
        Assert.Equal("not_found", exception.Trailers.GetValue(GrpcProblems.ProblemCodeTrailer));
    }
}
