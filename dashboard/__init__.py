"""The dashboard's own code: what app.py shows of an analysis, apart from the poreseg library.

    messages     what a person reads when a photo cannot be analysed, and after one that worked
    uploads      Gradio's copies of uploaded photos, deleted soon after use (sweep_gradio_uploads: the one
                 place that reads Gradio internals, for want of a public API)
    session      what one browser session keeps between events, the folder of its pictures, and the
                 session of each open tab (closed with the tab)
    views        an analysis as the page shows it, tab by tab (Markdown, pictures, figures)
    charts       the Plotly figures of the Heatmap tab
    tables       the before/after table (the zone table is poreseg.tables.zone_table)
    before_after a product's simulated effect as the Before/after tab shows it
    downloads    the report files behind the Report tab's buttons
    warm_up      the networks loaded before the first visitor

Nothing here imports Gradio: app.py lays these out and wires the events.
"""
