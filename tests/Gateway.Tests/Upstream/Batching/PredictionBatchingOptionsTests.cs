using System.ComponentModel.DataAnnotations;
using Gateway.Upstream.Inference.Batching;

namespace Gateway.Tests.Upstream.Batching;

public sealed class PredictionBatchingOptionsTests
{
    private static List<string> Problems(PredictionBatchingOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return [.. results.Select(result => result.ErrorMessage!)];
    }

    [Fact]
    public void The_defaults_are_valid_and_batch_every_model() =>
        Assert.Empty(Problems(new PredictionBatchingOptions()));

    [Fact]
    public void A_model_overrides_only_what_it_sets()
    {
        var options = new PredictionBatchingOptions
        {
            MaxBatchSize = 32,
            MaxWait = TimeSpan.FromMilliseconds(3),
            Models = { ["iris"] = new ModelBatchingOptions { MaxBatchSize = 100 } },
        };

        Assert.Equal(new ModelBatching(true, 100, TimeSpan.FromMilliseconds(3)), options.For("iris"));
        Assert.Equal(new ModelBatching(true, 32, TimeSpan.FromMilliseconds(3)), options.For("sentiment"));
    }

    [Fact]
    public void A_wait_beyond_a_second_fails_start_up() =>
        Assert.Contains(Problems(new PredictionBatchingOptions { MaxWait = TimeSpan.FromSeconds(2) }),
            problem => problem.Contains("MaxWait", StringComparison.Ordinal));

    [Fact]
    public void A_models_bad_override_fails_start_up_naming_the_model()
    {
        var problems = Problems(new PredictionBatchingOptions
        {
            Models = { ["iris"] = new ModelBatchingOptions { MaxBatchSize = 0, MaxWait = TimeSpan.FromSeconds(5) } },
        });

        Assert.Contains(problems, problem => problem.StartsWith("Inference:Batching:Models:iris: ", StringComparison.Ordinal)
            && problem.Contains("MaxWait", StringComparison.Ordinal));
        Assert.Contains(problems, problem => problem.StartsWith("Inference:Batching:Models:iris: ", StringComparison.Ordinal)
            && problem.Contains("MaxBatchSize", StringComparison.Ordinal));
    }
}
