namespace AppHost.Database;

/// <summary>
/// Server settings every PostgreSQL this application starts runs with (the local runtime, the container, the
/// Kubernetes StatefulSet); an external server is the operator's, and docs/deployment.md says what to set there.
/// </summary>
internal static class PostgresTuning
{
    /// <summary>
    /// <c>autovacuum_naptime</c> of 5 s instead of a minute. The jobs and the outbox are queue-like: every job inserts
    /// a row, updates it twice and the outbox inserts and deletes one, so their dead row versions pile up between
    /// autovacuum's visits, and each scan of the unfinished jobs (the quota count) or of the pending messages (the
    /// relay) steps over them: with a minute between visits the server's CPU per job moved between 0.4 and 1.1 ms from
    /// run to run, with 5 s it stayed at 0.3–0.4 (docs/performance-history.md, "One message for the jobs admitted together").
    /// The setting is how often autovacuum looks at each database; a table is still vacuumed only past its thresholds,
    /// so a large table is not vacuumed more often than its size warrants.
    /// </summary>
    private static readonly KeyValuePair<string, string>[] Settings =
    [
        new("autovacuum_naptime", "5s"),
    ];

    /// <summary><see cref="Settings"/> as the server's command-line arguments (<c>-c name=value</c> each).</summary>
    public static string[] Arguments { get; } = [.. Settings.SelectMany(setting => new[] { "-c", $"{setting.Key}={setting.Value}" })];
}
