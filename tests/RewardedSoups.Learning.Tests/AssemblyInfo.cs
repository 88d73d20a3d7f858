// The tests of this assembly build models and draw data from libtorch's default random generator, one per
// process: run side by side, a draw of one test lands between another's seed and its draws. Production code
// goes through TorchRandom's gate; these tests, many of which construct modules directly, run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
