using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Microsoft.Extensions.Hosting;

/// <summary>The activity source and meter the services' own code reports through.</summary>
public static class Telemetry
{
    public const string ActivitySourceName = "MlGateway";
    public const string MeterName = "MlGateway";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);
}
