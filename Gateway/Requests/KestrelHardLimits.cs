using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace Gateway.Requests;

/// <summary>
/// Kestrel's own limits, which it enforces before any middleware and answers with a bare status (no problem body).
/// They are set well above the documented limits (<see cref="RequestLimitsOptions"/>, whose ranges stay below them),
/// so a request over a documented limit reaches <see cref="RequestLimitsMiddleware"/> and gets a problem; only an
/// absurd one (docs/security.md, "Request hygiene") is refused by Kestrel itself.
/// </summary>
public static class KestrelHardLimits
{
    public const int MaxHeadersTotalBytes = 64 * 1024;
    public const int MaxHeaderCount = 400;
    public const int MaxRequestLineBytes = 32 * 1024;

    /// <summary>
    /// Connections the kernel holds for the gateway to accept (Kestrel's default: 512; Linux caps it at
    /// <c>net.core.somaxconn</c>, 4096 by default). A burst of more new connections than that, e.g. a thousand callers
    /// at once, overflowed it: the kernel dropped their handshakes' last packet and each of them waited a second or
    /// more for the retransmission before its request was even read.
    /// </summary>
    public const int ListenBacklog = 4096;

    public static void Apply(KestrelServerOptions kestrel)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        kestrel.Limits.MaxRequestHeadersTotalSize = MaxHeadersTotalBytes;
        kestrel.Limits.MaxRequestHeaderCount = MaxHeaderCount;
        kestrel.Limits.MaxRequestLineSize = MaxRequestLineBytes;
        // HTTP/2 and HTTP/3 bound one header field (the path included) on their own, 16 KiB by default.
        kestrel.Limits.Http2.MaxRequestHeaderFieldSize = MaxHeadersTotalBytes;
        kestrel.Limits.Http3.MaxRequestHeaderFieldSize = MaxHeadersTotalBytes;
    }

    public static void Apply(SocketTransportOptions sockets)
    {
        ArgumentNullException.ThrowIfNull(sockets);
        sockets.Backlog = ListenBacklog;
    }
}
