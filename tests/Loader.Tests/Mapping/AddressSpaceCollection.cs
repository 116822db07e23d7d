namespace Loader.Tests.Mapping;

/// <summary>
/// Tests that read /proc/self/maps or /proc/self/fd run one at a time: they compare the address space before and
/// after, and another test mapping or unmapping at the same moment would blur what is ours.
/// </summary>
[CollectionDefinition("AddressSpace", DisableParallelization = true)]
public sealed class AddressSpaceCollection;
