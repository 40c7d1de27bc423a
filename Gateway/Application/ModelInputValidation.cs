using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;

namespace Gateway.Application;

/// <summary>
/// The checks the gateway makes before anything leaves it: a model name, a non-empty batch within the limit and
/// no text longer than the limit. What an input must look like for a given model is python-inference's decision.
/// </summary>
internal static partial class ModelInputValidation
{
    public static ProblemDetails? Validate(string? model, IReadOnlyList<JsonElement>? inputs, int maxBatchSize,
        int maxTextLength)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(model))
        {
            errors["model"] = ["A model name is required."];
        }
        else if (!ModelName().IsMatch(model))
        {
            errors["model"] = ["A model name is 1 to 64 lower-case letters, digits, '-' or '_'."];
        }

        if (inputs is null || inputs.Count == 0)
        {
            errors["inputs"] = ["At least one input is required."];
        }

        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        if (inputs!.Count > maxBatchSize)
        {
            return ProblemDetailsContract.Create(StatusCodes.Status400BadRequest, ProblemCodes.BatchTooLarge,
                "Too many inputs in one request.", $"At most {maxBatchSize} inputs are allowed; got {inputs.Count}.",
                new Dictionary<string, string[]> { ["inputs"] = [$"At most {maxBatchSize} inputs are allowed."] });
        }

        // One pass, each text decoded once (a batch of 100 used to decode every text twice).
        Dictionary<string, string[]>? notText = null, tooLong = null;
        for (var index = 0; index < inputs.Count; index++)
        {
            var input = inputs[index];
            if (input.ValueKind != JsonValueKind.String)
            {
                if (!JsonText.IsUnicode(input))
                {
                    (notText ??= [])[$"inputs[{index}]"] = [JsonText.NotUnicode];
                }
            }
            else if (!JsonText.TryGetString(input, out var text))
            {
                (notText ??= [])[$"inputs[{index}]"] = [JsonText.NotUnicode];
            }
            else if (text!.Length > maxTextLength)
            {
                (tooLong ??= [])[$"inputs[{index}]"] = [$"At most {maxTextLength} characters are allowed; got {text.Length}."];
            }
        }

        if (notText is not null)
        {
            return Invalid(notText);
        }

        return tooLong is not null ? Invalid(tooLong, $"Texts are limited to {maxTextLength} characters.") : null;
    }

    /// <summary>400 <c>validation_failed</c> naming each field that is wrong, the one shape of every bad-input problem.</summary>
    public static ProblemDetails Invalid(IDictionary<string, string[]> errors, string? detail = null) =>
        ProblemDetailsContract.Create(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
            "The request is not valid.", detail, errors);

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex ModelName();
}
