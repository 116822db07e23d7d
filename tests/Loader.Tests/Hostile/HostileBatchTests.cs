using Loader.Hostile;

namespace Loader.Tests.Hostile;

/// <summary>
/// The batch harness can fail: a child told to do something wrong to one input (leak a mapping, an anonymous
/// range or a descriptor, throw a foreign exception, crash, hang) has exactly that input reported, and the inputs
/// after it are still run (a new child after a crash or a hang).
/// </summary>
public sealed class HostileBatchTests
{
    [Theory]
    [InlineData("leak-map", EntryPoint.Open, "accepted", "input's mapping")]
    [InlineData("leak-anon", EntryPoint.Map, "accepted", "anonymous mapping")]
    [InlineData("leak-fd", EntryPoint.Load, "accepted", "input's descriptor")]
    [InlineData("throw", EntryPoint.Open, "escaped", "")]
    [InlineData("crash", EntryPoint.Map, "crashed", "")]
    public void A_fault_in_the_child_is_reported_against_its_input(string fault, EntryPoint entry, string outcome, string leak)
    {
        string directory = Directory.CreateTempSubdirectory("loader-batch-fault-").FullName;
        try
        {
            string[] inputs = [.. new[] { "first.so", "fault.so", "last.so" }.Select(n => Path.Combine(directory, n))];
            foreach (string input in inputs)
                File.Copy(Fixtures.Path("basic.so"), input);

            var outcomes = HostileBatch.Run(entry, inputs, fault);

            Assert.Equal(inputs, outcomes.Select(o => o.Input));
            Assert.True(outcomes[0].Clean && outcomes[2].Clean, string.Join("\n", outcomes));
            var faulty = outcomes[1];
            Assert.False(faulty.Clean);
            Assert.Equal(outcome, faulty.Outcome);
            Assert.Contains(leak, faulty.Leak, StringComparison.Ordinal);
            if (fault == "throw")
                Assert.Contains("InvalidOperationException", faulty.Type, StringComparison.Ordinal);
            if (fault == "crash")
                Assert.Contains("exit code", faulty.Detail, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_child_that_hangs_is_killed_and_the_rest_of_the_batch_runs()
    {
        string directory = Directory.CreateTempSubdirectory("loader-batch-hang-").FullName;
        try
        {
            string[] inputs = [.. new[] { "first.so", "fault.so", "last.so" }.Select(n => Path.Combine(directory, n))];
            foreach (string input in inputs)
                File.Copy(Fixtures.Path("basic.so"), input);

            var outcomes = HostileBatch.Run(EntryPoint.Open, inputs, "hang", timeout: TimeSpan.FromSeconds(15));

            Assert.Equal(["accepted", "hung", "accepted"], outcomes.Select(o => o.Outcome));
            Assert.Equal(inputs[1], outcomes[1].Input);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
