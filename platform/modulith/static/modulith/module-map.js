/* Draws the module map with the Mermaid library this site serves (no CDN). The page's body
   gets data-module-map="rendered" (or "failed") when done. */
"use strict";
(function () {
    function done(state) {
        document.body.dataset.moduleMap = state;
    }
    if (typeof window.mermaid === "undefined") {
        done("failed");
        return;
    }
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "default" });
    window.mermaid.run({ querySelector: "pre.mermaid" }).then(
        function () {
            done("rendered");
        },
        function (error) {
            done("failed");
            console.error("module map:", error);
        }
    );
})();
