namespace Worker.Registry;

/// <summary>What a registration must carry; the gRPC service and the HTTP API both check it before the store.</summary>
public static class ModelVersionRules
{
    public const int MaxNameLength = 200;

    /// <summary>The kinds of input a model takes, as python-inference names them.</summary>
    public static readonly IReadOnlyList<string> InputKinds = ["text", "features"];

    /// <summary>Field (camelCase) → what is wrong with it; empty when the version can be registered.</summary>
    public static Dictionary<string, string[]> Validate(NewModelVersion version)
    {
        var errors = new Dictionary<string, string[]>();
        CheckName(errors, "name", version.Name);
        CheckName(errors, "version", version.Version);
        if (!InputKinds.Contains(version.InputKind))
        {
            errors["inputKind"] = [$"One of {string.Join(", ", InputKinds)}."];
        }

        if (version.ArtifactSha256.Length != 64 || !version.ArtifactSha256.All(char.IsAsciiHexDigit))
        {
            errors["artifactSha256"] = ["The artifact's SHA-256 as 64 hexadecimal digits."];
        }

        if (version.Labels.Any(string.IsNullOrWhiteSpace))
        {
            errors["labels"] = ["Labels must not be empty."];
        }

        if (version.Metrics.Any(metric => string.IsNullOrWhiteSpace(metric.Key) || !double.IsFinite(metric.Value)))
        {
            errors["metrics"] = ["Each metric needs a name and a finite value."];
        }

        return errors;
    }

    /// <summary>The field errors of a name or version given alone (an activation, a look-up).</summary>
    public static void CheckName(Dictionary<string, string[]> errors, string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors[field] = ["Required."];
        }
        else if (value.Length > MaxNameLength || value.Trim().Length != value.Length)
        {
            errors[field] = [$"At most {MaxNameLength} characters, without surrounding spaces."];
        }
    }
}
