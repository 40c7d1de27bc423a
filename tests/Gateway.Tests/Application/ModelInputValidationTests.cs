using Gateway.Application;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Tests.Application;

public sealed class ModelInputValidationTests
{
    private static JsonElement[] Inputs(int count) =>
        Enumerable.Range(0, count).Select(i => JsonSerializer.SerializeToElement($"text {i}")).ToArray();

    private static string? CodeOf(ProblemDetails? result) => result?.Extensions["code"]?.ToString();

    [Fact]
    public void A_named_model_with_inputs_within_the_limit_is_valid() =>
        Assert.Null(ModelInputValidation.Validate("sentiment", Inputs(3), maxBatchSize: 3, maxTextLength: 100));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Not A Name")]
    [InlineData("../etc/passwd")]
    public void A_missing_or_malformed_model_name_is_a_validation_problem(string? model)
    {
        var result = ModelInputValidation.Validate(model, Inputs(1), 10, 100);

        Assert.Equal("validation_failed", CodeOf(result));
        Assert.Equal(400, result?.Status);
    }

    [Fact]
    public void No_inputs_is_a_validation_problem_naming_the_field()
    {
        var result = ModelInputValidation.Validate("sentiment", Inputs(0), 10, 100);

        var errors = Assert.IsType<Dictionary<string, string[]>>(result?.Extensions["errors"]);
        Assert.Contains("inputs", errors.Keys);
    }

    [Fact]
    public void More_inputs_than_the_limit_is_batch_too_large()
    {
        var result = ModelInputValidation.Validate("sentiment", Inputs(11), maxBatchSize: 10, maxTextLength: 100);

        Assert.Equal("batch_too_large", CodeOf(result));
        Assert.Contains("10", result?.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_text_longer_than_the_limit_is_a_validation_problem_naming_its_index()
    {
        JsonElement[] inputs = [JsonSerializer.SerializeToElement("short"), JsonSerializer.SerializeToElement(new string('a', 101))];

        var result = ModelInputValidation.Validate("sentiment", inputs, maxBatchSize: 10, maxTextLength: 100);

        Assert.Equal("validation_failed", CodeOf(result));
        var errors = Assert.IsType<Dictionary<string, string[]>>(result?.Extensions["errors"]);
        Assert.Equal(["inputs[1]"], errors.Keys);
    }
}
