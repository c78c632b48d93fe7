pub mod embed_html;
