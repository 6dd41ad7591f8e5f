// Registers every `dripfeed` task. Each task file registers itself on import; add one line per file.
import "./scope";
