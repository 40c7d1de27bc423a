using System.Reflection;
using Grpc.AspNetCore.Server;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Worker.Registry;

/// <summary>
/// Decodes a unary gRPC call's message before the service runs, so a message that is too large or does not decode
/// is answered with a problem status — RESOURCE_EXHAUSTED <c>payload_too_large</c>, INVALID_ARGUMENT
/// <c>validation_failed</c> — and its <c>problem-code</c> trailer. gRPC for ASP.NET Core decodes the message before
/// any interceptor, and answers a decoding failure UNKNOWN ("Exception was thrown by handler") and an oversized one
/// RESOURCE_EXHAUSTED without a code. Runs after authorization: an unauthenticated call is refused before its
/// message is read. A compressed message is passed on unchecked (no caller of the Worker compresses).
/// </summary>
internal sealed class GrpcRequestDecoding(RequestDelegate next, IOptions<GrpcServiceOptions> options)
{
    private const int FrameHeaderBytes = 5;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!GrpcProblems.IsGrpcRequest(context)
            || context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not { Method.Type: MethodType.Unary } grpc)
        {
            await next(context);
            return;
        }

        var limit = options.Value.MaxReceiveMessageSize ?? 4 * 1024 * 1024;
        var body = context.Request.Body;
        var header = new byte[FrameHeaderBytes];
        var read = await body.ReadAtLeastAsync(header, FrameHeaderBytes, throwOnEndOfStream: false, context.RequestAborted);
        if (read < FrameHeaderBytes)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed, "The call carries no complete message.");
            return;
        }

        var length = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
        if (length > limit)
        {
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge,
                $"At most {limit} bytes per message are accepted; this one has {length}.");
            return;
        }

        var message = new byte[length];
        if (await body.ReadAtLeastAsync(message, message.Length, throwOnEndOfStream: false, context.RequestAborted) < message.Length)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed, "The message is truncated.");
            return;
        }

        if (header[0] == 0 && !Decodes(grpc.Method, message))
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                $"The message does not decode as the request of {grpc.Method.ServiceName}/{grpc.Method.Name}.");
            return;
        }

        // The service reads the same call again, from memory (a unary call has one message: anything after it is
        // passed on for the framework to refuse, up to one more message's worth).
        var buffered = new MemoryStream(FrameHeaderBytes + message.Length);
        buffered.Write(header);
        buffered.Write(message);
        var rest = new byte[limit + FrameHeaderBytes + 1];
        var trailing = await body.ReadAtLeastAsync(rest, rest.Length, throwOnEndOfStream: false, context.RequestAborted);
        if (trailing == rest.Length)
        {
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge,
                "A unary call carries one message.");
            return;
        }

        buffered.Write(rest, 0, trailing);
        buffered.Position = 0;
        context.Request.Body = buffered;
        context.Features.Set<IRequestBodyPipeFeature>(new RequestBodyPipeFeature(context));
        await next(context);
    }

    /// <summary>Whether <paramref name="message"/> parses as the method's request type (its generated parser).</summary>
    private static bool Decodes(IMethod method, byte[] message)
    {
        var requestType = method.GetType().GetGenericArguments()[0];
        if (requestType.GetProperty("Parser", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) is not MessageParser parser)
        {
            return true; // not a protobuf message: the framework decodes it
        }

        try
        {
            parser.ParseFrom(message);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            return false; // not a message of this type, invalid UTF-8 in a string, truncated
        }
    }

    private static Task RefuseAsync(HttpContext context, int status, string code, string detail) =>
        GrpcProblems.WriteStatusAsync(context, ProblemDetailsContract.Create(status, code,
            status == StatusCodes.Status413PayloadTooLarge ? "The message is too large." : "The message is not valid.", detail));
}

public static class GrpcRequestDecodingExtensions
{
    /// <summary>Unary gRPC messages are decoded (and their size checked) before the service, with problem statuses.</summary>
    public static IApplicationBuilder UseGrpcRequestDecoding(this IApplicationBuilder app) =>
        app.UseMiddleware<GrpcRequestDecoding>();
}
