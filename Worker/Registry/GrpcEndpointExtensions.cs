using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Worker.Registry;

/// <summary>
/// The port of the Worker's gRPC endpoint (<c>GRPC_PORT</c>, which the AppHost sets per replica to the target port
/// of the endpoint named <c>grpc</c>, as python-inference's is set).
/// </summary>
public sealed class GrpcEndpointOptions
{
    public const string PortVariable = "GRPC_PORT";

    [Range(1, 65535)]
    public int? Port { get; set; }
}

public static class GrpcEndpointExtensions
{
    /// <summary>
    /// gRPC over cleartext needs HTTP/2 with prior knowledge, which Kestrel speaks only on an HTTP/2-only endpoint
    /// (Http1AndHttp2 without TLS means HTTP/1.1). So the listener on <c>GRPC_PORT</c> is HTTP/2 only; every other
    /// one keeps Kestrel's default. Without <c>GRPC_PORT</c> there is no such listener.
    /// </summary>
    public static IHostApplicationBuilder AddGrpcEndpoint(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GrpcEndpointOptions>()
            .Configure<IConfiguration>((options, configuration) =>
                options.Port = configuration.GetValue<int?>(GrpcEndpointOptions.PortVariable))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<GrpcEndpointOptions>>((kestrel, grpc) =>
            {
                if (grpc.Value.Port is not { } port)
                {
                    return;
                }

                // Applies to the addresses Aspire passes in ASPNETCORE_URLS too (http://localhost:<port>).
                kestrel.ConfigureEndpointDefaults(listen =>
                {
                    if (listen.IPEndPoint?.Port == port)
                    {
                        listen.Protocols = HttpProtocols.Http2;
                    }
                });
            });
        builder.Services.AddGrpc();
        return builder;
    }
}
