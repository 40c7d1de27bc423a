using System.ComponentModel.DataAnnotations;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Client-side balancing for a gRPC client whose address is <c>dns:///host:port</c>: the channel resolves the name to
/// every address it has (a Kubernetes headless Service answers with its ready pods), keeps a connection to each, and
/// sends its calls round-robin over them, so one HTTP/2 connection no longer pins every call to one server. The name
/// is resolved again every <see cref="GrpcBalancingOptions.DnsRefreshInterval"/> (30 s by default; servers added
/// since then get calls from then on) and at once when a connection fails. Any other address (<c>http://</c>,
/// service discovery's <c>http://_grpc.name</c>) is one server, as before.
/// </summary>
public static class GrpcBalancing
{
    public const string DnsScheme = "dns";

    /// <summary>Balances the client's calls when <paramref name="address"/> (the client's own) is <c>dns:///</c>.</summary>
    public static IHttpClientBuilder BalancedOverResolvedAddresses(
        this IHttpClientBuilder builder, Func<IServiceProvider, Uri> address)
    {
        // The channel takes its resolvers from the container; this one replaces the built-in DNS resolver, which
        // resolves again only when a connection fails and so would never see a new server. Registered once per
        // process, however many clients balance.
        var registered = builder.Services.Any(service =>
            !service.IsKeyedService && service.ImplementationType == typeof(RefreshingDnsResolverFactory));
        if (!registered)
        {
            builder.Services.AddValidatedOptions<GrpcBalancingOptions>(GrpcBalancingOptions.SectionName);
            builder.Services.AddSingleton<ResolverFactory, RefreshingDnsResolverFactory>();
        }

        return builder.ConfigureChannel((services, channel) =>
        {
            if (!IsBalanced(address(services)))
            {
                return;
            }

            channel.Credentials = ChannelCredentials.Insecure; // plain HTTP/2 inside the cluster, as http:// addresses
            AllowBalancing(channel.HttpHandler);
            channel.ServiceConfig ??= new ServiceConfig();
            channel.ServiceConfig.LoadBalancingConfigs.Clear();
            channel.ServiceConfig.LoadBalancingConfigs.Add(new RoundRobinConfig());
        });
    }

    public static bool IsBalanced(Uri address) => address.Scheme == DnsScheme;

    /// <summary>
    /// Service discovery marks every client's <see cref="SocketsHttpHandler"/> so that gRPC channels do not balance
    /// (for an <c>http://_grpc.name</c> address it picks the endpoint itself, per call). A <c>dns:///</c> address does
    /// not go through it (the balancer hands each call an address already resolved), so the mark comes off here.
    /// </summary>
    private static void AllowBalancing(HttpMessageHandler? handler)
    {
        while (handler is DelegatingHandler { InnerHandler: { } inner })
        {
            handler = inner;
        }

        if (handler is SocketsHttpHandler sockets)
        {
            sockets.Properties.Remove(LoadBalancingDisabledProperty);
        }
    }

    /// <summary>The handler's property Grpc.Net.Client reads (Microsoft.Extensions.ServiceDiscovery sets it).</summary>
    private const string LoadBalancingDisabledProperty = "__GrpcLoadBalancingDisabled";

    /// <summary>The DNS resolver with <see cref="GrpcBalancingOptions.DnsRefreshInterval"/>.</summary>
    private sealed class RefreshingDnsResolverFactory(IOptions<GrpcBalancingOptions> options) : ResolverFactory
    {
        private readonly DnsResolverFactory _dns = new(options.Value.DnsRefreshInterval);

        public override string Name => _dns.Name;

        public override Resolver Create(ResolverOptions options) => _dns.Create(options);
    }
}

/// <summary>The process's settings for balanced gRPC channels (<c>Grpc:*</c>).</summary>
public sealed class GrpcBalancingOptions
{
    public const string SectionName = "Grpc";

    /// <summary>How often a <c>dns:///</c> channel resolves its name again: how soon a new server gets calls.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan DnsRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);
}
