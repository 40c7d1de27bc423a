using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace Tests.Contracts;

/// <summary>A failed gRPC call as python-inference writes one: status, message, <c>problem-code</c> trailer and details.</summary>
internal static class RpcFailures
{
    public static RpcException Failure(StatusCode code, string message, string? problemCode, BadRequest? details = null)
    {
        var trailers = new Metadata();
        if (problemCode is not null)
        {
            trailers.Add("problem-code", problemCode);
        }

        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        if (details is not null)
        {
            status.Details.Add(Any.Pack(details));
        }

        trailers.Add("grpc-status-details-bin", status.ToByteArray());
        return new RpcException(new Grpc.Core.Status(code, message), trailers);
    }
}
