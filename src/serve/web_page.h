#pragma once
// The page `qsenti serve` answers at GET /: type or paste posts, pick a
// served model, see each label's probability. One self-contained HTML file
// (no scripts or styles from elsewhere: the service may run offline) that
// talks to the same API a program would (/v1/models, /info, /predict).
namespace qsenti::serve {

const char* web_page_html();

}  // namespace qsenti::serve
