// Registers every `dripfeed` task. Each task file registers itself on import; add one line per file.
import "./scope";
import "./pool";
import "./grant";
import "./agreement";
import "./acceptance";
import "./status";
import "./relay";
import "./acceptor";
import "./find";
import "./verify";
import "./watch";
import "./address";
